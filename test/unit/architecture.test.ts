// The layering of src/, checked: the imports of every file (read with the TypeScript compiler,
// `import type` and `export … from` included) against the table below, and no cycle between
// files or between top-level folders. The table is the rule: an import it does not allow is
// either fixed or added here, with its reason; KNOWN_LEAKS only shrinks (a leak that is gone fails
// the test until it is taken off the list).

import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** A target that stands for every config schema part (see isSchemaFile). */
const SCHEMA = 'schema files';

/**
 * What each part of src/ may import besides its own folder. A key is a top-level folder, a single
 * file (which then may import only what is listed, own folder included), or SCHEMA; the most
 * specific key wins. A target is a folder, a file, or SCHEMA.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  core: [],
  kube: ['core'],
  dns: ['core'],
  'dns/contract.ts': ['core', 'dns/propagation.ts'], // the types of the propagation options
  issuers: ['core', 'dns/contract.ts'],
  'issuers/contract.ts': ['core', 'dns/contract.ts'],
  sinks: ['core', 'kube'],
  ha: ['core', 'kube'],
  plan: ['core', 'issuers/contract.ts'],
  acme: ['core', 'dns/contract.ts', 'issuers/contract.ts'],
  state: ['core', 'kube', 'issuers/contract.ts'],
  // Config composes the plugins' schema files and nothing else of theirs; at load time it also
  // names the agent and reads the sealing key (two leaf files that import only core).
  config: ['core', SCHEMA, 'state/agent-id.ts', 'state/seal.ts'],
  // A schema part is loaded by every config load: only core, other schema parts, its kind's
  // contract (the kind helper and capability types), and leaf files (constants and pure helpers).
  [SCHEMA]: [
    'core',
    SCHEMA,
    'dns/contract.ts',
    'sinks/contract.ts',
    'observe/notify/contract.ts',
    'config/cron.ts',
    'dns/fields.ts',
    'dns/wire/tsig-algorithms.ts',
    'dns/providers/route53/records.ts',
    'sinks/files/paths.ts',
    'observe/events.ts',
  ],
  // Besides the stores' contract, observe reads the contracts whose calls it counts (metrics).
  observe: ['core', SCHEMA, 'state/contract.ts', 'state/storage/contract.ts', 'dns/contract.ts', 'issuers/contract.ts'],
  verify: ['core', 'config', 'observe', 'sinks/contract.ts', 'state/contract.ts', 'state/codec.ts'],
  // The engine sees contracts, never concrete adapters.
  engine: [
    'core',
    'plan',
    'config',
    'observe',
    'verify',
    'dns/contract.ts',
    'issuers/contract.ts',
    'sinks/contract.ts',
    'sinks/scope.ts',
    'state/contract.ts',
    'state/codec.ts',
  ],
  doctor: ['core', 'config', 'acme', 'dns', 'sinks', 'state', 'observe'],
  // The one place that builds concrete providers, sinks and stores from config.
  cli: ['core', 'config', 'plan', 'acme', 'dns', 'issuers', 'sinks', 'kube', 'ha', 'state', 'observe', 'verify', 'engine', 'doctor'],
  devstack: ['core', 'dns'],
  demo: ['core', 'cli', 'devstack'],
};

/**
 * Imports that break the table or close a cycle, each with why it is still there. None today:
 * an entry added here needs its reason, and fails the test once it is no longer needed.
 */
const KNOWN_LEAKS: readonly Leak[] = [];

interface Leak {
  from: string;
  to: string;
  reason: string;
}

/** Config schema parts: `schema.ts` in a plugin folder and the `*-schema.ts` pieces they share. */
function isSchemaFile(file: string): boolean {
  // json-schema.ts renders the config's JSON Schema; cli/commands/schema.ts is the `schema` command.
  if (file === 'config/json-schema.ts' || file.startsWith('cli/')) return false;
  return /(^|\/)([a-z0-9-]+-)?schema\.ts$/.test(file);
}

const SRC = path.resolve(import.meta.dirname, '../../src');

type Edge = readonly [from: string, to: string];

/** Every file's relative imports, resolved to files, as paths relative to src/. */
function importGraph(): { files: string[]; edges: Edge[]; unresolved: string[] } {
  const files = (fs.readdirSync(SRC, { recursive: true }) as string[])
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => file.split(path.sep).join('/'))
    .sort();
  const edges: Edge[] = [];
  const unresolved: string[] = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(SRC, file), 'utf8');
    for (const { fileName: specifier } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!specifier.startsWith('.')) continue;
      const target = resolve(file, specifier, files);
      if (target === undefined) unresolved.push(`${file} -> ${specifier}`);
      else if (!edges.some(([from, to]) => from === file && to === target)) edges.push([file, target]);
    }
  }
  return { files, edges, unresolved };
}

function resolve(from: string, specifier: string, files: readonly string[]): string | undefined {
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const base = joined.replace(/\.js$/, '');
  return [`${base}.ts`, `${joined}.ts`, `${joined}/index.ts`].find((candidate) => files.includes(candidate));
}

const folderOf = (file: string): string => file.split('/')[0]!;

/** The rule a file falls under: its own file key, SCHEMA, else its folder. */
function ruleOf(file: string, rules: Record<string, readonly string[]>): readonly string[] | undefined {
  return rules[file] ?? (isSchemaFile(file) ? rules[SCHEMA] : undefined) ?? rules[folderOf(file)];
}

function allows(target: string, file: string): boolean {
  if (target === SCHEMA) return isSchemaFile(file);
  return target.endsWith('.ts') ? file === target : folderOf(file) === target;
}

/** Edges the table forbids, as "from -> to". */
function forbiddenEdges(edges: readonly Edge[], rules: Record<string, readonly string[]>): string[] {
  const found: string[] = [];
  for (const [from, to] of edges) {
    const rule = ruleOf(from, rules);
    if (rule === undefined) {
      found.push(`${from} -> ${to} (no rule for ${folderOf(from)}/)`);
      continue;
    }
    // A folder may use itself; a single file or a schema part only what its rule lists.
    const ownFolder = rules[from] === undefined && !isSchemaFile(from) && folderOf(from) === folderOf(to);
    if (!ownFolder && !rule.some((target) => allows(target, to))) found.push(`${from} -> ${to}`);
  }
  return found;
}

/** Strongly connected components of more than one node (Tarjan), each as a list of nodes. */
function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const [from, to] of edges) {
    if (from === to) continue;
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node)!) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) visit(node);
  return found;
}

/** Whether `to` can be reached from `from` along the edges. */
function reaches(edges: readonly Edge[], from: string, to: string): boolean {
  const seen = new Set([from]);
  const pending = [from];
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (node === to) return true;
    for (const [source, target] of edges) if (source === node && !seen.has(target)) (seen.add(target), pending.push(target));
  }
  return false;
}

/** Folder-to-folder edges. Imports of schema files are left out: their own rule keeps them below every folder. */
function folderEdges(edges: readonly Edge[]): Edge[] {
  return edges.filter(([from, to]) => folderOf(from) !== folderOf(to) && !isSchemaFile(to)).map(([from, to]) => [folderOf(from), folderOf(to)] as const);
}

/** A cycle, named by the imports that form it. */
function describeCycle(component: readonly string[], edges: readonly Edge[], nodeOf: (file: string) => string): string {
  const inside = new Set(component);
  const byStep = new Map<string, string[]>();
  for (const [from, to] of edges) {
    if (nodeOf(from) === nodeOf(to) || !inside.has(nodeOf(from)) || !inside.has(nodeOf(to))) continue;
    const step = `${nodeOf(from)} -> ${nodeOf(to)}`;
    byStep.set(step, [...(byStep.get(step) ?? []), `${from} -> ${to}`]);
  }
  // A folder step is named by its first import and a count of the others.
  const steps = [...byStep].map(([step, imports]) =>
    imports[0] === step ? step : `${step} (${imports[0]}${imports.length > 1 ? `, +${imports.length - 1} more` : ''})`,
  );
  return `${component.join(' <-> ')}: ${steps.join(', ')}`;
}

/** Every problem with a graph under a table, each a readable line. */
function layeringProblems(edges: readonly Edge[], rules: Record<string, readonly string[]>, leaks: readonly Leak[]): string[] {
  const isLeak = ([from, to]: Edge): boolean => leaks.some((leak) => leak.from === from && leak.to === to);
  const checked = edges.filter((edge) => !isLeak(edge));
  const problems = forbiddenEdges(checked, rules).map((edge) => `forbidden import: ${edge}`);
  for (const component of cycles(checked)) problems.push(`file cycle: ${describeCycle(component, checked, (file) => file)}`);
  const crossing = checked.filter(([from, to]) => folderOf(from) !== folderOf(to) && !isSchemaFile(to));
  for (const component of cycles(folderEdges(checked))) problems.push(`folder cycle: ${describeCycle(component, crossing, folderOf)}`);
  // A leak is still needed while it exists and the table forbids it or it closes a cycle.
  for (const leak of leaks) {
    const edge = edges.find(([from, to]) => leak.from === from && leak.to === to);
    const forbidden = edge !== undefined && forbiddenEdges([edge], rules).length > 0;
    const closesCycle =
      edge !== undefined &&
      (reaches(checked, leak.to, leak.from) || (folderEdges([edge]).length > 0 && reaches(folderEdges(checked), folderOf(leak.to), folderOf(leak.from))));
    if (!forbidden && !closesCycle) problems.push(`known leak no longer needed, take it off KNOWN_LEAKS: ${leak.from} -> ${leak.to}`);
  }
  return problems;
}

describe('layering of src/', () => {
  const graph = importGraph();

  it('resolves every relative import to a file', () => {
    expect(graph.edges.length).toBeGreaterThan(500);
    expect(graph.unresolved).toEqual([]);
  });

  it('has a rule for every top-level folder', () => {
    const folders = [...new Set(graph.files.filter((file) => file.includes('/')).map(folderOf))];
    expect(folders.filter((folder) => MAY_IMPORT[folder] === undefined)).toEqual([]);
  });

  it('names only folders and files that exist in its table', () => {
    const folders = new Set(graph.files.map(folderOf));
    const named = Object.entries(MAY_IMPORT).flatMap(([key, targets]) => [key, ...targets]);
    const missing = named.filter((name) => name !== SCHEMA && !(name.endsWith('.ts') ? graph.files.includes(name) : folders.has(name)));
    expect(missing).toEqual([]);
  });

  it('keeps to the table, without cycles between files or folders', () => {
    expect(layeringProblems(graph.edges, MAY_IMPORT, KNOWN_LEAKS)).toEqual([]);
  });

  it('lists only leaks that exist, each with a reason', () => {
    for (const leak of KNOWN_LEAKS) {
      expect(leak.reason.length, `${leak.from} -> ${leak.to}`).toBeGreaterThan(10);
      expect(graph.files, leak.from).toContain(leak.from);
      expect(graph.files, leak.to).toContain(leak.to);
    }
  });
});

describe('the checker', () => {
  const rules = { core: [], plan: ['core'], engine: ['core', 'plan'], config: ['core', SCHEMA], [SCHEMA]: ['core', SCHEMA] };

  it('accepts a graph that keeps to the table', () => {
    const edges: Edge[] = [
      ['plan/renewal.ts', 'core/types.ts'],
      ['engine/renew.ts', 'plan/renewal.ts'],
      ['engine/renew.ts', 'engine/status.ts'],
      ['config/schema.ts', 'plan/schema.ts'],
    ];
    expect(layeringProblems(edges, rules, [])).toEqual([]);
  });

  it('names a forbidden edge', () => {
    const edges: Edge[] = [
      ['plan/renewal.ts', 'engine/status.ts'],
      ['config/load.ts', 'plan/renewal.ts'],
      ['plan/schema.ts', 'plan/renewal.ts'],
      ['core/types.ts', 'core/clock.ts'],
    ];
    expect(forbiddenEdges(edges, rules)).toEqual([
      'plan/renewal.ts -> engine/status.ts',
      'config/load.ts -> plan/renewal.ts',
      'plan/schema.ts -> plan/renewal.ts',
    ]);
    expect(forbiddenEdges([['cli/main.ts', 'core/types.ts']], rules)).toEqual(['cli/main.ts -> core/types.ts (no rule for cli/)']);
  });

  it('names a file cycle and a folder cycle by their imports', () => {
    const edges: Edge[] = [
      ['plan/a.ts', 'plan/b.ts'],
      ['plan/b.ts', 'plan/a.ts'],
      ['engine/renew.ts', 'plan/c.ts'],
      ['plan/c.ts', 'engine/status.ts'],
    ];
    expect(layeringProblems(edges, { plan: ['engine'], engine: ['plan'] }, [])).toEqual([
      'file cycle: plan/a.ts <-> plan/b.ts: plan/a.ts -> plan/b.ts, plan/b.ts -> plan/a.ts',
      'folder cycle: engine <-> plan: engine -> plan (engine/renew.ts -> plan/c.ts), plan -> engine (plan/c.ts -> engine/status.ts)',
    ]);
  });

  it('lets a known leak through, and fails once it is gone', () => {
    const leak = { from: 'plan/c.ts', to: 'engine/status.ts', reason: 'a synthetic leak' };
    const edges: Edge[] = [
      ['engine/renew.ts', 'plan/c.ts'],
      ['plan/c.ts', 'engine/status.ts'],
    ];
    expect(layeringProblems(edges, rules, [leak])).toEqual([]);
    expect(layeringProblems(edges.slice(0, 1), rules, [leak])).toEqual(['known leak no longer needed, take it off KNOWN_LEAKS: plan/c.ts -> engine/status.ts']);
  });
});
