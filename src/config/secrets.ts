// The one list of secret fields. Each accepts a `<field>File` twin (read at load time), and
// the logger redacts every one of them (the list itself is core/secret-fields.ts, which observe/redact.ts uses). Also what else in a
// config is a secret: hook `env:` and webhook `headers:` values, ${ENV} values used in any of
// them, and the AWS keys of certkeeper's environment. Config loading collects all of these into
// `config.secrets`, which the CLI registers for redaction (core/redaction.ts).

import { isSecretField, SECRET_FIELDS, type SecretField } from '../core/secret-fields.js';

export { isSecretField, SECRET_FIELDS, type SecretField };

/** Mappings whose every value is a secret: hook environments (tokens for an API) and webhook headers. */
export const SECRET_MAPPINGS: ReadonlySet<string> = new Set(['env', 'headers']);

/** True when `at` (the path of a mapping) is a secret mapping, so each value in it is a secret. */
export function isSecretMapping(at: readonly (string | number)[]): boolean {
  const last = at[at.length - 1];
  return typeof last === 'string' && SECRET_MAPPINGS.has(last);
}

/** True when the string at `at` is, or is inside, a secret: a secret field or a secret mapping's value. */
export function isSecretPath(at: readonly (string | number)[]): boolean {
  return at.some((part) => typeof part === 'string' && isSecretField(part)) || isSecretMapping(at.slice(0, -1));
}

/**
 * The AWS SDK reads these from the environment (route53, acm); their values are secrets too. The
 * access key id is an identifier, but it is half of a credential and needs no showing.
 */
export const AWS_SECRET_ENV = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const;

export function environmentSecrets(env: NodeJS.ProcessEnv): string[] {
  return AWS_SECRET_ENV.map((name) => env[name]).filter((value): value is string => value !== undefined && value !== '');
}

/** `tsigSecretFile` → `tsigSecret`; undefined when the key is not a secret's file twin. */
export function secretFieldOfFileKey(key: string): string | undefined {
  if (!key.endsWith('File')) return undefined;
  const field = key.slice(0, -'File'.length);
  return isSecretField(field) ? field : undefined;
}
