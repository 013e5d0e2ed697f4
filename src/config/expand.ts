// Pre-schema passes over the parsed YAML tree: `${NAME}` environment expansion and `*File`
// secret references. Both report problems with the YAML path, and collect every secret value
// so the logger can redact it.

import path from 'node:path';
import {
  chargeReference,
  MAX_REFERENCE_BYTES,
  readFailure,
  readFileBounded,
  referenceBudget,
  setOwn,
  type BoundedRead,
  type ReferenceBudget,
} from './bounds.js';
import { secretFieldOfFileKey, isSecretField, isSecretMapping } from './secrets.js';
import type { TreeProblem, YamlPath } from './tree-problem.js';

export type { TreeProblem, YamlPath } from './tree-problem.js';

const REFERENCE = /\$\$\{|\$\{([^}\n]*)\}/g;

/** Variables that only a particular caller sets, and where to get them when run by hand. */
const UNSET_HINTS = new Map([
  [
    'CREDENTIALS_DIRECTORY',
    ' (systemd sets it for a unit with LoadCredential=: check as the units run with systemctl start certkeeper-doctor, or by hand give CREDENTIALS_DIRECTORY=/etc/certkeeper/credentials)',
  ],
]);

/**
 * `${NAME}` references, made safe for the YAML parser. The contract writes them unquoted, even
 * inside flow mappings (`eab: { kid: abc, hmacKey: ${EAB_HMAC_KEY} }`), where `{` would end the
 * scalar; so before parsing each reference becomes a plain token, and after parsing the tokens
 * are replaced in string values. Values are never spliced into YAML text, so an environment
 * variable cannot inject structure.
 */
export interface EnvReferences {
  /** The YAML text with references replaced by tokens (same lines and columns count). */
  text: string;
  /** Replaces the tokens in one parsed string; unknown or unset names are reported. */
  expand(value: string, at: YamlPath, problems: TreeProblem[]): string;
  /** Every value substituted and where: the loader keeps those in secret fields for redaction. */
  substituted: { at: YamlPath; value: string }[];
}

export function protectEnvReferences(source: string, env: NodeJS.ProcessEnv, budget: ReferenceBudget = referenceBudget()): EnvReferences {
  const nonce = Math.random().toString(36).slice(2, 8);
  const names: string[] = [];
  const token = (i: number): string => `__ckenv_${nonce}_${i}__`;
  const text = source.replace(REFERENCE, (match, name: string | undefined) => {
    names.push(match === '$${' ? '$${' : (name ?? ''));
    return token(names.length - 1);
  });
  const tokenPattern = new RegExp(`__ckenv_${nonce}_(\\d+)__`, 'g');
  const substituted: { at: YamlPath; value: string }[] = [];
  return {
    text,
    substituted,
    expand(value, at, problems) {
      return value.replace(tokenPattern, (_match, index: string) => {
        const name = names[Number(index)]!;
        if (name === '$${') return '${';
        const key = name.trim();
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
          problems.push({ path: at, message: `"\${${name}}" is not a valid environment variable reference` });
          return '';
        }
        const resolved = env[key];
        if (resolved === undefined) {
          problems.push({ path: at, message: `environment variable ${key} is not set${UNSET_HINTS.get(key) ?? ''}` });
          return '';
        }
        const over = chargeReference(budget, resolved, `environment variable ${key}`);
        if (over !== undefined) {
          if (over !== '') problems.push({ path: at, message: over });
          return '';
        }
        substituted.push({ at, value: resolved });
        return resolved;
      });
    },
  };
}

/** Expands the protected references in every string of the parsed tree (keys included). */
export function expandEnv(tree: unknown, references: EnvReferences, problems: TreeProblem[], at: YamlPath = []): unknown {
  if (typeof tree === 'string') return references.expand(tree, at, problems);
  if (Array.isArray(tree)) return tree.map((item, index) => expandEnv(item, references, problems, [...at, index]));
  if (tree !== null && typeof tree === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(tree)) setOwn(out, references.expand(key, at, problems), expandEnv(value, references, problems, [...at, key]));
    return out;
  }
  return tree;
}

/**
 * Replaces every `<secret>File: PATH` with `<secret>: <file contents>` (trailing newline
 * trimmed); relative paths are read from `baseDir`. Collects secret values into `secrets`:
 * secret fields and every value of a secret mapping (hook `env:`, webhook `headers:`).
 */
export function resolveSecretFiles(
  tree: unknown,
  baseDir: string,
  problems: TreeProblem[],
  secrets: Set<string>,
  at: YamlPath = [],
  reader: SecretFileReader = secretFileReader(),
): unknown {
  if (Array.isArray(tree)) return tree.map((item, index) => resolveSecretFiles(item, baseDir, problems, secrets, [...at, index], reader));
  if (tree === null || typeof tree !== 'object') return tree;
  const out: Record<string, unknown> = {};
  const entries = Object.entries(tree as Record<string, unknown>);
  for (const [key, value] of entries) {
    const field = secretFieldOfFileKey(key);
    if (field !== undefined) {
      if (key in out || entries.some(([other]) => other === field)) {
        problems.push({ path: [...at, key], message: `give either ${field} or ${key}, not both` });
        continue;
      }
      if (typeof value !== 'string' || value === '') {
        problems.push({ path: [...at, key], message: 'must be a file path' });
        continue;
      }
      const file = path.resolve(baseDir, value);
      const read = reader(file);
      if (!read.ok) {
        if (read.problem !== '') problems.push({ path: [...at, key], message: read.problem }); // '' once the total was reported
        continue;
      }
      const content = read.text.replace(/\r?\n$/, '');
      if (content === '') problems.push({ path: [...at, key], message: `${file} is empty` });
      setOwn(out, field, content);
      secrets.add(content);
      continue;
    }
    if ((isSecretField(key) || isSecretMapping(at)) && typeof value === 'string' && value !== '') secrets.add(value);
    setOwn(out, key, resolveSecretFiles(value, baseDir, problems, secrets, [...at, key], reader));
  }
  return out;
}

/** Reads one `*File` for a parse: bounded in size, each file once, all of them within the reference budget. */
export type SecretFileReader = (file: string) => { ok: true; text: string } | { ok: false; problem: string };

export function secretFileReader(budget: ReferenceBudget = referenceBudget()): SecretFileReader {
  const cache = new Map<string, BoundedRead>();
  return (file) => {
    const read = cache.get(file) ?? readFileBounded(file, MAX_REFERENCE_BYTES);
    cache.set(file, read);
    if (!read.ok) return { ok: false, problem: readFailure(file, read) };
    // Charged at every use: an aliased mapping holding a *File key adds the contents each time.
    const over = chargeReference(budget, read.text, file);
    return over === undefined ? read : { ok: false, problem: over };
  };
}
