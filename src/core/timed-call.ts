// Timing a call for metrics: how long it took and how it ended, told once it has. Shared by the
// DNS provider and state store wrappers and the challenge loop's propagation check, which differ
// only in what they call a failure and which failures are the caller's own (not told).

export type CallOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs `call` and tells `report` its outcome and duration in seconds, then returns or throws as
 * `call` did. A failure for which `callerCancelled()` is true (the caller's signal) is not told.
 */
export async function timedCall<T>(
  call: () => Promise<T>,
  report: (outcome: CallOutcome<T>, seconds: number) => void,
  callerCancelled: () => boolean = () => false,
): Promise<T> {
  const started = performance.now();
  const seconds = (): number => (performance.now() - started) / 1000;
  let value: T;
  try {
    value = await call();
  } catch (error) {
    if (!callerCancelled()) report({ ok: false, error }, seconds());
    throw error;
  }
  report({ ok: true, value }, seconds());
  return value;
}
