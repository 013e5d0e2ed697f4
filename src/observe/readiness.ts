// Readiness (`/readyz`) as a pure function of what the daemon knows: the config is loaded, the
// state dir is writable, and a plan ran recently enough. Each unmet condition is one reason line.

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export interface ReadinessInput {
  configLoaded: boolean;
  /** Result of the last write probe of the state dir; a string says why it failed. */
  stateDirWritable: boolean | string;
  /** Whether the state store answers (a database, an API server); a string says why not. Omitted: not checked. */
  storeReachable?: boolean | string | undefined;
  /** When the last plan of every certificate completed; null before the first one. */
  lastPlanAt: Date | null;
  now: Date;
  /** A plan older than this makes the agent unready (a stuck scheduler); omit to only require one. */
  maxPlanAgeMs?: number | undefined;
}

export function readiness(input: ReadinessInput): Readiness {
  const reasons: string[] = [];
  if (!input.configLoaded) reasons.push('config not loaded');
  if (input.stateDirWritable !== true) {
    reasons.push(typeof input.stateDirWritable === 'string' ? `state dir not writable: ${input.stateDirWritable}` : 'state dir not writable');
  }
  if (input.storeReachable !== undefined && input.storeReachable !== true) {
    reasons.push(typeof input.storeReachable === 'string' ? `state store unreachable: ${input.storeReachable}` : 'state store unreachable');
  }
  if (input.lastPlanAt === null) reasons.push('no plan has run yet');
  else if (input.maxPlanAgeMs !== undefined && input.now.getTime() - input.lastPlanAt.getTime() > input.maxPlanAgeMs) {
    reasons.push(`last plan ran at ${input.lastPlanAt.toISOString()}, longer ago than ${Math.round(input.maxPlanAgeMs / 1000)} s`);
  }
  return { ready: reasons.length === 0, reasons };
}
