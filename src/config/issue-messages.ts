// What a schema problem says to the operator, where the schema has no words of its own (the
// `error` option of a parse: a schema's own message still wins). zod's defaults name its types
// ("expected record, received array"), and a finished zod 4 issue carries no input unless asked,
// so the loader used to call every wrong type "is required". Here: the type wanted and the type
// given, in YAML's words, with the value when it is short and not a secret.

import type { z } from 'zod';
import { isSecretPath } from './secrets.js';

type RawIssue = z.core.$ZodRawIssue;

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  tuple: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  map: 'a mapping',
  null: 'an empty value (null)',
  literal: 'a fixed value',
};

const MAX_SHOWN_CHARACTERS = 40;

/** "the string "lots"", "the number 5", "a list", "an empty value (null)"; no value for a secret. */
export function describeReceived(input: unknown, at: readonly (string | number)[]): string {
  if (input === null) return 'an empty value (null)';
  if (Array.isArray(input)) return 'a list';
  const show = !isSecretPath(at);
  switch (typeof input) {
    case 'string': {
      if (!show) return 'a string';
      const shown = input.length > MAX_SHOWN_CHARACTERS ? `${input.slice(0, MAX_SHOWN_CHARACTERS)}…` : input;
      return `the string ${JSON.stringify(shown)}`;
    }
    case 'number':
      return show ? `the number ${input}` : 'a number';
    case 'boolean':
      return show ? `${input}` : 'true or false';
    case 'object':
      return 'a mapping';
    default:
      return typeof input;
  }
}

function expectedName(expected: string): string {
  return EXPECTED[expected] ?? expected;
}

/** The message of one issue (its path is complete when zod asks); undefined keeps zod's. */
export function issueMessage(issue: RawIssue): string | undefined {
  const at = (issue.path ?? []).filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return 'is required';
    return `expected ${expectedName(issue.expected)}, got ${describeReceived(issue.input, at)}`;
  }
  if (issue.code === 'invalid_union') {
    if ('note' in issue && issue.note === 'No matching discriminator') return undefined;
    // Every alternative refused the type itself: name them all ("a string or a number").
    const alternatives = issue.errors.map((branch) =>
      branch.length === 1 && branch[0]!.code === 'invalid_type' && branch[0]!.path.length === 0 ? branch[0]!.expected : undefined,
    );
    if (alternatives.length > 0 && alternatives.every((a) => a !== undefined)) {
      if (issue.input === undefined) return 'is required';
      const names = [...new Set(alternatives.map((a) => expectedName(a!)))];
      return `expected ${names.join(' or ')}, got ${describeReceived(issue.input, at)}`;
    }
  }
  return undefined;
}
