// The limits on what a config may cost to read: its size in bytes, its nesting, the size of the
// tree once YAML aliases are expanded, and what `${ENV}` and `*File` references may add. A config
// is operator input, but one written carelessly (or by whoever can write the file) must be
// refused in milliseconds, not take the agent's memory and event loop with it.
//
// Why a tree walk after js-yaml rather than an alias limit in the parser: js-yaml has no such
// option, and it does not expand aliases either (an alias is the anchored object itself, shared),
// so reading a "billion laughs" file is cheap. Everything after it (the ${ENV} and *File passes,
// the schema) walks the tree as if each alias were a copy, which is exponential. Counting the
// expanded size with one visit per distinct node bounds that, and catches recursive aliases
// (`&a [*a]`, which js-yaml builds as a cycle) too.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { TreeProblem, YamlPath } from './tree-problem.js';

/** The largest config file read, in bytes (10,000 certificates of one line each take ~0.7 MB). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** The deepest nesting of mappings and lists (js-yaml's maxDepth; a real config is under 10 deep). */
export const MAX_CONFIG_DEPTH = 64;
/** Values (mappings, lists, scalars) once every alias is expanded where it is used. */
export const MAX_CONFIG_VALUES = 1_000_000;
/** Characters of all strings once every alias is expanded (twice what the largest file holds). */
export const MAX_CONFIG_CHARACTERS = 2 * MAX_CONFIG_BYTES;
/** One `${ENV}` value, or one `*File`'s contents, in bytes (a 16384-bit RSA key in PEM is ~12 KB). */
export const MAX_REFERENCE_BYTES = 64 * 1024;
/** Everything `${ENV}` and `*File` references add to the config together, in bytes. */
export const MAX_REFERENCES_TOTAL_BYTES = 1024 * 1024;
/** An `acme.caBundle` file (Mozilla's whole bundle is ~220 KB). */
export const MAX_CA_BUNDLE_BYTES = 1024 * 1024;
/** Problems listed in one error; the rest are counted (a broken alias can repeat one thousands of times). */
export const MAX_REPORTED_PROBLEMS = 100;

const KIB = 1024;
/** "8 MiB", "64 KiB", "512 bytes". */
export function formatBytes(bytes: number): string {
  if (bytes >= KIB * KIB && bytes % (KIB * KIB) === 0) return `${bytes / (KIB * KIB)} MiB`;
  if (bytes >= KIB && bytes % KIB === 0) return `${bytes / KIB} KiB`;
  return `${bytes} bytes`;
}

/** A file's text, or why it was not read: a system error code, or over the limit (size when known). */
export type BoundedRead = { ok: true; text: string } | { ok: false; code: string } | { ok: false; code?: undefined; limit: number; size?: number };

const CHUNK_BYTES = 64 * 1024;

/**
 * Reads at most `maxBytes` of a file as UTF-8, refusing a larger one without reading it all: the
 * size is checked first, and the read stops past the limit for what has no size (a FIFO, /dev/zero).
 */
export function readFileBounded(file: string, maxBytes: number): BoundedRead {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    return { ok: false, code: errorCode(error) };
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) return { ok: false, code: 'EISDIR' };
    if (stat.size > maxBytes) return { ok: false, limit: maxBytes, size: stat.size };
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, maxBytes + 1 - length));
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      chunks.push(chunk.subarray(0, read));
      length += read;
      if (length > maxBytes) return { ok: false, limit: maxBytes };
    }
    return { ok: true, text: Buffer.concat(chunks, length).toString('utf8') };
  } catch (error) {
    return { ok: false, code: errorCode(error) };
  } finally {
    closeSync(fd);
  }
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

/** "cannot read X: ENOENT", "X is 5000000 bytes, over the limit of 4 MiB". */
export function readFailure(what: string, read: Exclude<BoundedRead, { ok: true }>): string {
  if (read.code !== undefined) return `cannot read ${what}: ${read.code}`;
  return `${what} is ${read.size === undefined ? 'larger than' : `${read.size} bytes, over`} the limit of ${formatBytes(read.limit)}`;
}

/** What one parse may still add through references; shared by the ${ENV} and *File passes. */
export interface ReferenceBudget {
  /** Bytes added so far. */
  used: number;
  /** Whether the total limit has been reported already (once per config). */
  exhausted: boolean;
}

export function referenceBudget(): ReferenceBudget {
  return { used: 0, exhausted: false };
}

/**
 * Charges `value` (what a reference at `at` resolved to) to the budget; returns a problem message
 * when the value or the running total is over its limit. `what` names the reference.
 */
export function chargeReference(budget: ReferenceBudget, value: string, what: string): string | undefined {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_REFERENCE_BYTES) return `${what} holds ${bytes} bytes, over the limit of ${formatBytes(MAX_REFERENCE_BYTES)} per reference`;
  budget.used += bytes;
  if (budget.used > MAX_REFERENCES_TOTAL_BYTES) {
    if (budget.exhausted) return '';
    budget.exhausted = true;
    return `\${ENV} and *File references add more than ${formatBytes(MAX_REFERENCES_TOTAL_BYTES)} to the config (${what} went over)`;
  }
  return undefined;
}

interface Measure {
  values: number;
  characters: number;
  /** Levels below this node, itself included. */
  height: number;
}

/**
 * Checks the parsed tree against the limits above, visiting each distinct node once; reports a
 * recursive alias, a `__proto__` key (which the passes after this one would turn into a prototype
 * instead of a key), and a tree too deep or too large once aliases are expanded. Stops at the
 * first size problem: the point is not to walk a bomb.
 */
export function treeProblems(tree: unknown): TreeProblem[] {
  const problems: TreeProblem[] = [];
  const measured = new Map<object, Measure>();
  const inProgress = new Set<object>();
  const at: YamlPath = []; // the path being visited (copied into a problem)
  let values = 0;
  let characters = 0;
  let stop = false;
  const report = (message: string, where: YamlPath = at): void => {
    problems.push({ path: [...where], message });
  };
  const checkTotals = (): void => {
    if (stop) return;
    if (values > MAX_CONFIG_VALUES)
      report(`the config holds more than ${MAX_CONFIG_VALUES.toLocaleString('en-US')} values once its aliases are expanded (an alias bomb?)`);
    else if (characters > MAX_CONFIG_CHARACTERS)
      report(`the config holds more than ${MAX_CONFIG_CHARACTERS.toLocaleString('en-US')} characters once its aliases are expanded (an alias bomb?)`);
    else return;
    stop = true;
  };
  const tooDeep = (): void => {
    report(`nested deeper than ${MAX_CONFIG_DEPTH} levels (aliases included)`);
    stop = true;
  };
  const EMPTY: Measure = { values: 0, characters: 0, height: 0 };

  const visit = (node: unknown): Measure => {
    if (node === null || typeof node !== 'object') {
      const length = typeof node === 'string' ? node.length : 0;
      values += 1;
      characters += length;
      return { values: 1, characters: length, height: 0 };
    }
    const known = measured.get(node);
    if (known) {
      // An alias used again: its whole subtree counts, without walking it.
      values += known.values;
      characters += known.characters;
      if (at.length + known.height > MAX_CONFIG_DEPTH) tooDeep();
      checkTotals();
      return known;
    }
    if (inProgress.has(node)) {
      report('a recursive alias: it refers to a mapping or list that contains it');
      stop = true;
      return EMPTY;
    }
    if (at.length >= MAX_CONFIG_DEPTH) {
      tooDeep();
      return EMPTY;
    }
    inProgress.add(node);
    const measure: Measure = { values: 1, characters: 0, height: 1 };
    values += 1;
    const visitChild = (key: string | number, value: unknown): void => {
      at.push(key);
      const child = visit(value);
      measure.values += child.values;
      measure.characters += child.characters;
      measure.height = Math.max(measure.height, child.height + 1);
      checkTotals();
      at.pop();
    };
    if (Array.isArray(node)) {
      for (let index = 0; index < node.length && !stop; index++) visitChild(index, node[index]);
    } else {
      for (const key of Object.keys(node)) {
        if (stop) break;
        if (key === '__proto__') report('unknown key "__proto__"', [...at, key]);
        measure.characters += key.length;
        characters += key.length;
        visitChild(key, (node as Record<string, unknown>)[key]);
      }
    }
    inProgress.delete(node);
    measured.set(node, measure);
    return measure;
  };
  visit(tree);
  return problems;
}

/**
 * Sets `out[key]` as an own property whatever the key: a plain assignment with key "__proto__"
 * replaces the object's prototype and the key vanishes, so the schema could never call it unknown.
 */
export function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
