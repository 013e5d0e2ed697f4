// The config's warnings (config/warnings.ts: settings that weaken transport security) as doctor
// lines: one WARN per warning, or one PASS when there are none. They never fail the doctor.

import type { Config } from '../config/load.js';
import { pass, warn, type Check, type CheckResult } from './contract.js';

export const CONFIG_WARNINGS_CHECK = 'config.security';

export function configWarningResults(config: Pick<Config, 'warnings'>): CheckResult[] {
  const warnings = config.warnings ?? [];
  if (warnings.length === 0) return [pass(CONFIG_WARNINGS_CHECK, 'no setting weakens transport security (TLS, remote reload, key modes)')];
  return warnings.map((w) => warn(CONFIG_WARNINGS_CHECK, `${w.path}: ${w.message}`));
}

export function configWarningsCheck(config: Pick<Config, 'warnings'>): Check {
  return { name: CONFIG_WARNINGS_CHECK, run: async () => configWarningResults(config) };
}
