// Loading the configuration: YAML → ${ENV} expansion → *File secrets → schema → cross-checks →
// resolved paths. Every problem is reported with its YAML path (and line), all at once, and
// nothing is changed anywhere when the config is bad.
//
// Two YAML parsers, one meaning: js-yaml reads the file (YAML 1.2 core schema, duplicate keys
// refused), about 11× faster than the `yaml` library's document API and with a fraction of its
// garbage (a 10,000-certificate config: 38 ms against 440 ms); only when something is wrong is the
// `yaml` document built, for the line of each problem and its clearer syntax messages.
//
// Both paths are bounded (bounds.ts): the file's size before it is read, js-yaml's nesting, the
// tree's size with aliases expanded before anything walks it, and the `yaml` document is built only
// for text it reads in well under a second (its parser slows down a hundredfold on deep nesting)
// and is never turned into values (no toJS), so its aliases are never expanded either.

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml';
import type { Document, LineCounter } from 'yaml';
import type { z } from 'zod';
import { CertkeeperError } from '../core/errors.js';
import { normalizeDomain } from '../core/domain.js';
import type { CertificateSpec, RenewBefore } from '../core/types.js';
import type { HttpSettings } from '../observe/http-schema.js';
import type { NotifyConfig } from '../observe/notify/schema.js';
import type { HaConfig } from '../ha/schema.js';
import { configSchema, type DnsProviderConfig, type RawConfig, type SinkConfig } from './schema.js';
import { agentIdOf } from '../state/agent-id.js';
import { AGENT_ID, DEFAULT_LOCK_TTL_MS, type StateConfig } from '../state/schema.js';
import { readSealKeyFile } from '../state/seal.js';
import { buildWatch, type WatchSettings } from '../verify/schema.js';
import type { AcmeSettings } from './acme.js';
import { buildIssuers, issuerProblems, type IssuerSettings } from './issuers.js';
import { expandEnv, protectEnvReferences, resolveSecretFiles, secretFileReader, type TreeProblem, type YamlPath } from './expand.js';
import {
  formatBytes,
  MAX_CONFIG_BYTES,
  MAX_CONFIG_DEPTH,
  MAX_REPORTED_PROBLEMS,
  readFailure,
  readFileBounded,
  referenceBudget,
  treeProblems as boundsProblems,
} from './bounds.js';
import { issueMessage } from './issue-messages.js';
import { explainedBy, explainedPlaces, formatPath, inFileOrder, mappingKeys, zodProblems, type ConfigProblem, type Found } from './problems.js';
import { certificateProblems } from './references.js';
import { pluginSecretValues, resolvePluginPaths } from './plugin-paths.js';
import { sinkTargetProblems } from './targets.js';
import { configWarnings, type ConfigWarning } from './warnings.js';
import { environmentSecrets, isSecretPath } from './secrets.js';

export const DEFAULT_CONFIG_PATH = '/etc/certkeeper/certkeeper.yaml';
const DEFAULT_STATE_DIR = '/var/lib/certkeeper';

export interface Config {
  /** Absolute path of the file this came from. */
  file: string;
  /** This agent's own folder: the file store's folder, or `state.localDir` with PostgreSQL. */
  stateDir: string;
  /** Where state lives (`state:`, or `stateDir:` as a file store); paths absolute. */
  state: StateConfig;
  /** Who this agent is among those sharing a store: CERTKEEPER_AGENT_ID, `agent.id`, or the host name. */
  agentId: string;
  /** The first issuer (`acme:`, or `issuers[0]`). */
  acme: AcmeSettings;
  /** Every CA in fallback order; `acme:` alone gives one, named "default". */
  issuers: IssuerSettings[];
  resolvers: string[] | undefined;
  maxConcurrent: number;
  /** Certificates in the renewal pipeline at once; the engine's default when absent. */
  maxInFlight?: number | undefined;
  /** Backoff steps in ms after consecutive failed orders (the last repeats). */
  backoffMs: number[];
  /** The daemon's settings (`certkeeper run`). */
  daemon: {
    schedule: string | undefined;
    http: HttpSettings | undefined;
    notify: NotifyConfig;
    alertBefore: RenewBefore | undefined;
    shutdownTimeoutMs: number;
    /** Leader election among replicas (`ha:`); absent: this instance always leads. */
    ha: HaConfig | undefined;
    /** Rehearsal period (`rehearse.every`); undefined: no rehearsals. */
    rehearseEveryMs: number | undefined;
  };
  dns: Record<string, DnsProviderConfig>;
  sinks: Record<string, SinkConfig>;
  certificates: CertificateSpec[];
  /** Endpoints certkeeper does not manage, watched for expiry (`watch:`); undefined when absent. */
  watch: WatchSettings | undefined;
  /** Every secret value found in the config, for log redaction. */
  secrets: string[];
  /** Per certificate, a hash of everything that shapes its issuance and deployment. */
  fingerprints: Record<string, string>;
  /** Settings that weaken transport security: valid, but logged by every command and shown by validate and doctor. */
  warnings: ConfigWarning[];
}

export type { AcmeSettings } from './acme.js';
export type { ConfigWarning } from './warnings.js';
export { formatPath, type ConfigProblem } from './problems.js';

export class ConfigError extends CertkeeperError {
  readonly problems: ConfigProblem[];
  constructor(file: string, problems: ConfigProblem[]) {
    const lines = problems.map(
      (p) =>
        `  ${p.path || '(top level)'}${p.line ? ` (line ${p.line})` : ''}: ${p.message}${p.column ? `, at column ${p.column}` : ''}${p.suggestion !== undefined ? ` (did you mean "${p.suggestion}"?)` : ''}`,
    );
    super('CONFIG_INVALID', `invalid configuration ${file}:\n${lines.join('\n')}`, { retryable: false, details: { problems } });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The first MAX_REPORTED_PROBLEMS as ConfigProblems, and a count of the rest (an aliased mistake can repeat by the thousand). */
function listed<T>(problems: readonly T[], toProblem: (problem: T) => ConfigProblem): ConfigProblem[] {
  const shown = problems.slice(0, MAX_REPORTED_PROBLEMS).map(toProblem);
  if (problems.length > MAX_REPORTED_PROBLEMS) shown.push({ path: '', message: `and ${problems.length - MAX_REPORTED_PROBLEMS} more problems` });
  return shown;
}

/**
 * Each top-level section parsed alone, for the checks that need parsed values (files to read,
 * URLs) when the whole config did not pass: those of a section that passes still run.
 */
function sectionsThatPass(tree: Record<string, unknown>): { raw: Partial<RawConfig>; passed: (...keys: (keyof RawConfig)[]) => boolean } {
  const raw: Record<string, unknown> = {};
  const ok = new Set<string>();
  for (const [key, schema] of Object.entries(configSchema.shape) as [keyof RawConfig, z.ZodType][]) {
    const result = schema.safeParse(tree[key]);
    if (!result.success) continue;
    ok.add(key);
    if (result.data !== undefined) raw[key] = result.data;
  }
  return { raw: raw as Partial<RawConfig>, passed: (...keys) => keys.every((key) => ok.has(key)) };
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

/** Reads and validates a config file; throws ConfigError listing every problem. */
export function loadConfigFile(file: string, options: LoadOptions = {}): Config {
  const absolute = path.resolve(file);
  const read = readFileBounded(absolute, MAX_CONFIG_BYTES);
  if (!read.ok) {
    const hint = read.code === 'ENOENT' ? ' (give --config PATH or set CERTKEEPER_CONFIG)' : '';
    throw new ConfigError(absolute, [{ path: '', message: `${readFailure('the file', read)}${hint}` }]);
  }
  return parseConfig(read.text, absolute, options);
}

/** How the config text becomes a tree: YAML 1.2 core schema, duplicate keys refused (js-yaml's default), nesting bounded. */
export function readYaml(text: string, file?: string): unknown {
  // maxDepth: js-yaml 4.3's (100 by default), newer than its published types.
  const options = { schema: CORE_SCHEMA, maxDepth: MAX_CONFIG_DEPTH, ...(file ? { filename: file } : {}) };
  return loadYaml(text, options as Parameters<typeof loadYaml>[1]);
}

/** The `yaml` document is built only for text it reads quickly: up to 1 MiB, without runaway flow nesting. */
const LOCATE_MAX_BYTES = 1024 * 1024;

/**
 * Whether the `yaml` library may parse `text` to locate problems. Its parser takes ~5 µs per byte
 * of deeply nested flow collections (`[[[[...`), so a rough count of unclosed brackets (quotes
 * not considered: a false alarm only costs line numbers) keeps it away from such text.
 */
function locatable(text: string): boolean {
  if (text.length > LOCATE_MAX_BYTES) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > 2 * MAX_CONFIG_DEPTH) return false;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return true;
}

/** The `yaml` library, loaded only for a config with problems (a valid one never needs it). CommonJS, so synchronously. */
function loadYamlLibrary(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml');
}

/** Validates config text as if it were read from `file` (relative paths resolve beside it). */
export function parseConfig(text: string, file: string, options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const baseDir = path.dirname(file);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONFIG_BYTES)
    throw new ConfigError(file, [{ path: '', message: `the config is ${bytes} bytes, over the limit of ${formatBytes(MAX_CONFIG_BYTES)}` }]);
  // What ${ENV} and *File references may add, together (bounds.ts).
  const budget = referenceBudget();
  const references = protectEnvReferences(text, env, budget);
  // Built only to report problems: where they are, and what is wrong with the syntax.
  type Located = { doc: Document; lineCounter: LineCounter; isNode: typeof import('yaml').isNode };
  let located: Located | null | undefined;
  const locate = (): Located | null => {
    if (located === undefined) {
      if (!locatable(references.text)) return (located = null);
      const yaml = loadYamlLibrary();
      const lineCounter = new yaml.LineCounter();
      located = { doc: yaml.parseDocument(references.text, { lineCounter, uniqueKeys: true, prettyErrors: false }), lineCounter, isNode: yaml.isNode };
    }
    return located;
  };
  const lineOf = (at: YamlPath): number | undefined => {
    const found = locate();
    if (!found) return undefined;
    const { doc, lineCounter, isNode } = found;
    for (let depth = at.length; depth >= 0; depth--) {
      const node = doc.getIn(at.slice(0, depth), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const toProblem = (p: Found): ConfigProblem => ({
    path: formatPath(p.path),
    line: lineOf(p.path),
    message: p.message,
    ...(p.suggestion !== undefined ? { suggestion: p.suggestion } : {}),
  });
  // Lines are looked up only for the problems that are listed, which are then shown in file order.
  const invalid = (found: Found[]): ConfigError => new ConfigError(file, inFileOrder(listed(found, toProblem)));

  let tree: unknown;
  try {
    tree = readYaml(references.text, file);
  } catch (error) {
    // One problem, where the parser first lost its way: what follows a syntax error is mostly its echo.
    const found = locate();
    const first = found?.doc.errors.reduce<(typeof found.doc.errors)[number] | undefined>(
      (a, e) => (a === undefined || e.pos[0] < a.pos[0] ? e : a),
      undefined,
    );
    if (found && first) {
      const at = first.linePos?.[0] ?? found.lineCounter.linePos(first.pos[0]);
      throw new ConfigError(file, [{ path: '', line: at.line, column: at.col, message: `YAML: ${first.message.split('\n')[0]}` }]);
    }
    // The stricter of the two (an unknown tag, say): its own words and place.
    const mark = (error as { mark?: { line?: number; column?: number } }).mark;
    const reason = (error as { reason?: string }).reason ?? (error instanceof Error ? error.message : String(error));
    const place = mark?.line !== undefined ? { line: mark.line + 1, ...(mark.column !== undefined ? { column: mark.column + 1 } : {}) } : {};
    throw new ConfigError(file, [{ path: '', ...place, message: `YAML: ${reason}` }]);
  }
  if (tree === null || tree === undefined || typeof tree !== 'object' || Array.isArray(tree)) {
    throw new ConfigError(file, [{ path: '', message: 'the file must be a YAML mapping (stateDir:, acme:, dns:, sinks:, certificates:)' }]);
  }
  // Before anything walks the tree as if each alias were a copy: its expanded size, depth, cycles, `__proto__`.
  const bounded = boundsProblems(tree);
  if (bounded.length > 0) throw invalid(bounded);

  // From here on every problem is collected and all are reported at once, each stage skipping
  // what an earlier stage already found wrong (an unset ${VAR} leaves an empty string behind).
  const problems: Found[] = [];
  const report = (found: Found[]): void => {
    const explained = explainedPlaces(problems);
    for (const problem of found) if (!explainedBy(explained, problem.path)) problems.push(problem);
  };
  const secrets = new Set<string>();
  const expanded = expandEnv(tree, references, problems);
  const resolved = resolveSecretFiles(expanded, baseDir, problems, secrets, [], secretFileReader(budget)) as Record<string, unknown>;
  // Also each ${ENV} value alone inside a secret (an error may quote just the token), and AWS keys.
  for (const { at, value } of references.substituted) if (isSecretPath(at)) secrets.add(value);
  for (const value of environmentSecrets(env)) secrets.add(value);

  // Messages of our own where a schema has none (issue-messages.ts); the input only to tell "missing" from "wrong".
  const knownKeys = new Map<string, string[]>();
  const parsed = configSchema.safeParse(resolved, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') knownKeys.set(formatPath(issue.path ?? []), mappingKeys(issue.inst));
      return issueMessage(issue);
    },
    reportInput: true,
  });
  if (!parsed.success) report(parsed.error.issues.flatMap((issue) => zodProblems(issue, knownKeys)));
  // Cross-references, on the tree as written: found whether or not the schema accepted it all.
  report([...certificateProblems(resolved), ...issuerProblems(resolved)]);

  // The settings that need more than the schema (files to read, URLs): the whole config when it
  // passed, else each section that passes on its own.
  const sections = parsed.success ? { raw: parsed.data, passed: (..._keys: (keyof RawConfig)[]) => true } : sectionsThatPass(resolved);
  const { raw: partial, passed } = sections;
  const sectionProblems: TreeProblem[] = [];
  // `acme:` is the one-issuer case of `issuers:` (acme/issuers); config.acme is the first issuer.
  const issuers = passed('acme', 'issuers') ? buildIssuers(partial, baseDir, sectionProblems) : [];
  const acme: AcmeSettings = issuers[0] ?? { directoryUrl: '', email: null };
  const watch = passed('watch') ? buildWatch(partial.watch, baseDir, (at, message) => sectionProblems.push({ path: at, message })) : undefined;
  const state = passed('state', 'stateDir') ? buildState(partial, baseDir, sectionProblems) : undefined;
  const agentId = agentIdOf(partial.agent?.id, env);
  if (passed('agent') && !AGENT_ID.test(agentId)) {
    sectionProblems.push({
      path: ['agent', 'id'],
      message: `the agent id "${agentId}" (from ${env.CERTKEEPER_AGENT_ID ? 'CERTKEEPER_AGENT_ID' : 'the host name'}) must be letters, digits, ".", "_" or "-", at most 63 characters`,
    });
  }
  report(sectionProblems);
  if (problems.length > 0 || !parsed.success || !state) throw invalid(problems);
  const raw = parsed.data;
  const certificates = buildCertificates(raw);

  // Relative paths mean "beside the config file", wherever certkeeper is started from: each plugin
  // type resolves its own (config/plugin-paths.ts); webhook header values (tokens) are secrets.
  const { sinks, dns, notify } = resolvePluginPaths(raw, baseDir);
  for (const value of pluginSecretValues(raw)) secrets.add(value);
  const config: Config = {
    file,
    stateDir: state.type === 'file' ? state.dir : state.localDir,
    state,
    agentId,
    acme,
    issuers,
    resolvers: raw.resolvers,
    maxConcurrent: raw.maxConcurrent,
    maxInFlight: raw.maxInFlight,
    backoffMs: raw.backoff,
    daemon: {
      schedule: raw.schedule,
      http: raw.http,
      notify,
      alertBefore: raw.alertBefore,
      shutdownTimeoutMs: raw.shutdownTimeout,
      ha: raw.ha?.kubernetes.kubeconfig ? { kubernetes: { ...raw.ha.kubernetes, kubeconfig: path.resolve(baseDir, raw.ha.kubernetes.kubeconfig) } } : raw.ha,
      rehearseEveryMs: raw.rehearse?.every,
    },
    dns,
    sinks,
    certificates,
    secrets: [...secrets].filter((s) => s.length >= 4),
    watch,
    fingerprints: {},
    warnings: [],
  };
  // Two certificates writing one place, or a sink writing into the state: the last writer would win.
  const targets = sinkTargetProblems(config);
  if (targets.length > 0) throw invalid(targets);
  for (const cert of certificates) config.fingerprints[cert.name] = fingerprint(config, cert);
  config.warnings = configWarnings({ issuers, issuersList: raw.issuers !== undefined, http: raw.http, sinks }, env);
  return config;
}

/** `state:`, or `stateDir:` as the file store it always was; relative paths beside the config file. */
function buildState(raw: Pick<RawConfig, 'state' | 'stateDir'>, baseDir: string, problems: TreeProblem[]): StateConfig {
  if (raw.state && raw.stateDir !== undefined) {
    problems.push({ path: ['stateDir'], message: 'give either stateDir (a file store) or state:, not both' });
  }
  const state: StateConfig = raw.state ?? { type: 'file', dir: raw.stateDir ?? DEFAULT_STATE_DIR, lockTtl: DEFAULT_LOCK_TTL_MS };
  if (state.type === 'file') return { ...state, dir: path.resolve(baseDir, state.dir) };
  // Found now, not when the store first opens: a bad URL or key file fails `validate`.
  if (state.type === 'postgres' && (!/^postgres(ql)?:\/\//.test(state.url) || !URL.canParse(state.url))) {
    problems.push({ path: ['state', 'url'], message: 'must be a postgres:// URL (postgres://user@host:5432/database)' });
  }
  const encryptionKeyFile = state.encryptionKeyFile === undefined ? undefined : path.resolve(baseDir, state.encryptionKeyFile);
  if (encryptionKeyFile !== undefined) {
    try {
      readSealKeyFile(encryptionKeyFile);
    } catch (error) {
      problems.push({ path: ['state', 'encryptionKeyFile'], message: (error as Error).message });
    }
  }
  // What the shared stores have alike: the local folder beside the config, the sealing key.
  const local = { localDir: path.resolve(baseDir, state.localDir), ...(encryptionKeyFile !== undefined ? { encryptionKeyFile } : {}) };
  if (state.type === 'kubernetes') {
    return { ...state, ...local, ...(state.kubeconfig !== undefined ? { kubeconfig: path.resolve(baseDir, state.kubeconfig) } : {}) };
  }
  return { ...state, ...local, ...(state.sslrootcert !== undefined ? { sslrootcert: path.resolve(baseDir, state.sslrootcert) } : {}) };
}

/** The certificates as the engine sees them; their problems are found by certificateProblems (references.ts). */
function buildCertificates(raw: RawConfig): CertificateSpec[] {
  const specs: CertificateSpec[] = [];
  for (const cert of raw.certificates) {
    const domains: string[] = [];
    for (const domain of cert.domains) {
      const normalized = normalizeDomain(domain);
      if (!domains.includes(normalized)) domains.push(normalized);
    }
    specs.push({
      name: cert.name,
      domains,
      dns: cert.dns,
      sinks: cert.sinks,
      renewBefore: cert.renewBefore ?? raw.defaults.renewBefore,
      keyType: cert.keyType ?? raw.defaults.keyType,
      reuseKey: cert.reuseKey ?? raw.defaults.reuseKey,
      ...(cert.verify && cert.verify.length > 0 ? { verify: cert.verify } : {}),
      ...(cert.issuers ? { issuers: cert.issuers } : {}),
      ...(cert.profile ? { profile: cert.profile } : {}),
      ...(cert.lifetime !== undefined ? { lifetimeMs: cert.lifetime } : {}),
    });
  }
  return specs;
}

/** Changes to this hash mean "the operator changed this certificate" (used to lift backoff). */
function fingerprint(config: Config, cert: CertificateSpec): string {
  const material = {
    cert,
    directory: config.acme.directoryUrl,
    dns: config.dns[cert.dns],
    sinks: cert.sinks.map((name) => config.sinks[name]),
  };
  return createHash('sha256').update(JSON.stringify(material)).digest('hex').slice(0, 16);
}
