// Checking a cron expression (`schedule:`) when the config is loaded, so `validate` catches
// "99 99 * * *" before the agent starts. Five fields (minute hour day month weekday) or six
// (with seconds first), as node-schedule reads them.

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** First value the names map to (months start at 1, weekdays at 0). */
  namesFrom?: number;
}

const SECOND: FieldSpec = { name: 'second', min: 0, max: 59 };
const FIVE: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, namesFrom: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, namesFrom: 0 },
];

function value(text: string, spec: FieldSpec): number | undefined {
  const named = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + (spec.namesFrom ?? 0);
  if (!/^\d+$/.test(text)) return undefined;
  const number = Number(text);
  return number >= spec.min && number <= spec.max ? number : undefined;
}

function fieldProblem(text: string, spec: FieldSpec): string | undefined {
  for (const part of text.split(',')) {
    const [range, step, extra] = part.split('/');
    if (extra !== undefined || range === undefined || range === '') return `${spec.name} "${text}" is malformed`;
    if (step !== undefined && !(/^\d+$/.test(step) && Number(step) > 0)) return `${spec.name} step "${step}" must be a positive number`;
    if (range === '*' || range === '?') continue;
    const bounds = range.split('-');
    if (bounds.length > 2) return `${spec.name} "${range}" is malformed`;
    const values = bounds.map((bound) => value(bound, spec));
    if (values.some((v) => v === undefined)) return `${spec.name} "${range}" is outside ${spec.min}-${spec.max}`;
    if (values.length === 2 && values[0]! > values[1]!) return `${spec.name} range "${range}" runs backwards`;
  }
  return undefined;
}

/** Why a cron expression is not acceptable, or undefined when it is. */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) return `needs 5 fields (minute hour day month weekday) or 6 (with seconds), got ${fields.length}`;
  const specs = fields.length === 6 ? [SECOND, ...FIVE] : FIVE;
  for (const [index, field] of fields.entries()) {
    const problem = fieldProblem(field, specs[index]!);
    if (problem) return problem;
  }
  return undefined;
}
