// There is no container engine here, so the Dockerfile is checked by reading it: stages, a
// non-root numeric user, `certkeeper run` under tini as the command, the state volume, pruned
// production dependencies only in the runtime stage and no npm there, a HEALTHCHECK, and no
// credentials baked in. (test/integration/packaging/production-tree.test.ts runs the pruned tree.)

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../../helpers/cli.js';

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Joins continuation lines, drops comments, splits into stages at FROM. */
function parseDockerfile(text: string): { preamble: Instruction[]; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (line.startsWith('#')) return; // a comment inside a continued instruction
    if (pending === '') start = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const space = full.search(/\s/);
    instructions.push({ keyword: full.slice(0, space).toUpperCase(), args: full.slice(space + 1).trim(), line: start });
  });
  const preamble: Instruction[] = [];
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      stages.push({ from: match?.[1] ?? instruction.args, name: match?.[2], instructions: [] });
    } else if (stages.length === 0) preamble.push(instruction);
    else stages.at(-1)!.instructions.push(instruction);
  }
  return { preamble, stages };
}

const all = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.keyword === keyword);
const last = (stage: Stage, keyword: string): Instruction | undefined => all(stage, keyword).at(-1);
const execForm = (args: string): string[] => JSON.parse(args) as string[];

const dockerfile = readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
const { preamble, stages } = parseDockerfile(dockerfile);
const runtime = stages.at(-1)!;
const build = stages.find((stage) => stage.name === 'build')!;
const deps = stages.find((stage) => stage.name === 'deps')!;

describe('Dockerfile', () => {
  it('builds in one stage and runs from Node 24 on the current Debian slim in another', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build).toBeDefined();
    const args = new Map(preamble.filter((i) => i.keyword === 'ARG').map((i) => i.args.split('=') as [string, string]));
    expect(args.get('NODE_VERSION')).toBe('24');
    expect(args.get('DEBIAN')).toBe('trixie'); // Debian 13, the current release
    for (const stage of stages) {
      expect(stage.from).toBe('node:${NODE_VERSION}-${DEBIAN}-slim');
    }
    const buildRuns = all(build, 'RUN').map((i) => i.args);
    expect(buildRuns.some((run) => /\bnpm ci\b/.test(run))).toBe(true);
    expect(buildRuns.some((run) => /\bnpm run build\b/.test(run))).toBe(true); // tsc, then dist/certkeeper.schema.json
  });

  it('installs only production dependencies, pruned, and takes dist/ from the build stage', () => {
    const depRuns = all(deps, 'RUN').map((i) => i.args);
    expect(
      depRuns.some((run) => /\bnpm ci\b.*--omit=dev/.test(run) && run.includes('--ignore-scripts') && run.includes('sh packaging/prune-production.sh /app')),
    ).toBe(true);
    const runs = all(runtime, 'RUN').map((i) => i.args);
    expect(runs.some((run) => /\bnpm\b|\btsc\b/.test(run.replace(/\/usr\/local\/\S*npm\S*|\/root\/\.npm/g, '')))).toBe(false);
    const copies = all(runtime, 'COPY').map((i) => i.args);
    expect(copies).toContain('--from=build /src/dist ./dist');
    expect(copies).toContain('--from=deps /app/node_modules ./node_modules');
    expect(copies.some((copy) => /^(?!--from)\S*\s*src\b/.test(copy))).toBe(false); // no sources in the image
  });

  it('has no npm, npx, corepack or yarn in the runtime stage, and tini as PID 1', () => {
    const runs = all(runtime, 'RUN')
      .map((i) => i.args)
      .join('\n');
    for (const tool of ['/usr/local/lib/node_modules', '/usr/local/bin/npm', '/usr/local/bin/npx', '/usr/local/bin/corepack', '/usr/local/bin/yarn']) {
      expect(runs).toMatch(new RegExp(`rm -rf[^\\n]*${tool.replace(/\//g, '\\/')}`));
    }
    expect(runs).toMatch(/apt-get install -y --no-install-recommends tini/);
    expect(execForm(last(runtime, 'ENTRYPOINT')!.args).slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
  });

  it('checks its health with certkeeper healthcheck (which passes when http.listen is off)', () => {
    const check = last(runtime, 'HEALTHCHECK')?.args ?? '';
    expect(check).toMatch(/--interval=\d+s/);
    const command = /CMD\s+(\[.*\])$/.exec(check)?.[1];
    expect(execForm(command ?? '[]')).toEqual(['node', '/app/dist/cli/main.js', 'healthcheck']);
  });

  it('runs `certkeeper run` as a fixed non-root user, with the state volume', () => {
    const user = last(runtime, 'USER')?.args ?? '';
    expect(user).toMatch(/^\d+(:\d+)?$/); // numeric: Kubernetes can verify runAsNonRoot
    expect(user.split(':')[0]).not.toBe('0');
    const entrypoint = execForm(last(runtime, 'ENTRYPOINT')!.args);
    const cmd = execForm(last(runtime, 'CMD')!.args);
    // A small young generation keeps the idle daemon small on Node 22 and 24 (bench/fleet.sh).
    expect([...entrypoint, ...cmd]).toEqual(['/usr/bin/tini', '--', 'node', '--max-semi-space-size=4', '/app/dist/cli/main.js', 'run']);
    expect(execForm(last(runtime, 'VOLUME')!.args)).toEqual(['/var/lib/certkeeper']);
    // The user owns the state dir; nothing else needs writing (read-only root filesystem).
    expect(all(runtime, 'RUN').some((i) => i.args.includes('chown 10001:10001 /var/lib/certkeeper'))).toBe(true);
    // USER comes after every RUN that needs root.
    const userLine = last(runtime, 'USER')!.line;
    expect(all(runtime, 'RUN').every((i) => i.line < userLine)).toBe(true);
  });

  it('bakes in no credentials', () => {
    for (const stage of stages) {
      for (const instruction of stage.instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
        expect(instruction.args).not.toMatch(/(SECRET|TOKEN|PASSWORD|ACCESS_KEY|HMAC|TSIG)/i);
      }
      for (const copy of all(stage, 'COPY').concat(all(stage, 'ADD'))) {
        expect(copy.args).not.toMatch(/\.(pem|key|secret)\b|\.npmrc|kubeconfig|\.env\b/);
      }
    }
    expect(dockerfile).not.toMatch(/^\s*ADD\s+https?:/m);
  });

  it('copies only files that exist, and .dockerignore keeps the rest (and any key material) out of the context', () => {
    for (const copy of [...all(build, 'COPY'), ...all(deps, 'COPY')]) {
      const sources = copy.args
        .split(/\s+/)
        .slice(0, -1)
        .filter((part) => !part.startsWith('--'));
      for (const source of sources) expect(existsSync(path.join(REPO, source)), source).toBe(true);
    }
    const ignored = readFileSync(path.join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim());
    for (const pattern of ['node_modules', 'dist', '.git', 'test', 'demo', '.npmrc', '**/*.pem', '**/*.key', '**/*.secret', '**/kubeconfig*']) {
      expect(ignored, pattern).toContain(pattern);
    }
    for (const needed of ['src', 'packaging', 'package.json', 'package-lock.json', 'tsconfig.json']) expect(ignored).not.toContain(needed);
  });
});
