// What is wrong with a config, as the loader reports it: problems from every stage (YAML,
// ${ENV} and *File, the schema, cross-references, files to read) with their YAML path, the
// schema's issues in the operator's words (an unknown key: one problem per key, with the nearest
// known key), a later stage's problem left out where an earlier one already explains it, and the
// list in file order.

import type { z } from 'zod';
import type { TreeProblem, YamlPath } from './tree-problem.js';
import { isSecretField, secretFieldOfFileKey } from './secrets.js';
import { nearestKey } from './suggest.js';

export interface ConfigProblem {
  /** e.g. `certificates[0].domains[1]` */
  path: string;
  line?: number;
  /** Where on the line, for a YAML syntax error. */
  column?: number;
  message: string;
  /** For an unknown key: the nearest known one (`emial` → `email`). */
  suggestion?: string;
}

export function formatPath(at: readonly PropertyKey[]): string {
  let out = '';
  for (const part of at) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** A problem found while loading, before its line is looked up. */
export interface Found extends TreeProblem {
  /** For an unknown key: the nearest known one. */
  suggestion?: string;
}

/**
 * The places whose problems are explained by those already found: each problem's own place and
 * what is inside it (not the whole file). A `tsigSecretFile` that could not be read leaves
 * `tsigSecret` missing: one mistake, so the secret's place counts too.
 */
export function explainedPlaces(found: readonly TreeProblem[]): Set<string> {
  const places = new Set<string>();
  for (const { path: at } of found) {
    if (at.length === 0) continue;
    places.add(JSON.stringify(at));
    const last = at[at.length - 1];
    const twin = typeof last === 'string' ? secretFieldOfFileKey(last) : undefined;
    if (twin !== undefined) places.add(JSON.stringify([...at.slice(0, -1), twin]));
  }
  return places;
}

export function explainedBy(places: ReadonlySet<string>, at: YamlPath): boolean {
  for (let depth = 1; depth <= at.length; depth++) if (places.has(JSON.stringify(at.slice(0, depth)))) return true;
  return false;
}

/** Sorted by line (stably: one line's problems stay in the order found); those without one last. */
export function inFileOrder(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) => (a.problem.line ?? Infinity) - (b.problem.line ?? Infinity) || a.index - b.index)
    .map(({ problem }) => problem);
}

/** One schema issue as problems: an unknown key each on its own path, with the nearest known key. */
export function zodProblems(issue: z.core.$ZodIssue, knownKeys: ReadonlyMap<string, string[]>): Found[] {
  const at = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const input = issue.input;
    const given = input !== null && typeof input === 'object' ? Object.keys(input) : [];
    // A key the mapping already has is no suggestion ("emial" beside "email").
    const candidates = (knownKeys.get(formatPath(at)) ?? []).filter((key) => !given.includes(key));
    return issue.keys.map((key) => {
      const suggestion = nearestKey(key, candidates);
      return { path: [...at, key], message: `unknown key "${key}"`, ...(suggestion !== undefined ? { suggestion } : {}) };
    });
  }
  let message = issue.message;
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    message = 'unknown or missing "type"';
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) message = 'is required';
  return [{ path: at, message }];
}

/** The keys a strict mapping's schema knows (zod's object shape), with the *File twin of each secret field. */
export function mappingKeys(schema: unknown): string[] {
  const shape = (schema as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
  if (!shape) return [];
  const keys = Object.keys(shape);
  return [...keys, ...keys.filter(isSecretField).map((key) => `${key}File`)];
}
