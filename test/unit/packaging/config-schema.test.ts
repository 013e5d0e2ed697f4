// The config's JSON Schema ships in the package: `npm run build` writes dist/certkeeper.schema.json
// with `certkeeper schema` itself, the published files include it, and no copy of it is in git
// (it is generated, never written by hand).

import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configJsonSchemaText } from '../../../src/config/json-schema.js';
import { REPO } from '../../helpers/cli.js';

const SCHEMA = 'dist/certkeeper.schema.json';
const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string>; files: string[] };

describe('the config schema in the package', () => {
  it('is written by the build, after compiling, by certkeeper schema (and npm install builds)', () => {
    const steps = pkg.scripts.build!.split('&&').map((step) => step.trim());
    expect(steps[0]).toBe('tsc -p tsconfig.json');
    expect(steps).toContain(`node dist/cli/main.js schema > ${SCHEMA}`);
    expect(pkg.scripts.prepare).toBe('npm run build');
    // The build's step, run here on the dist/ the test setup compiled: the file is what the command prints.
    execSync(`node dist/cli/main.js schema > ${SCHEMA}`, { cwd: REPO, stdio: 'pipe' });
    expect(readFileSync(path.join(REPO, SCHEMA), 'utf8')).toBe(configJsonSchemaText());
  });

  it('is among the files npm publishes', () => {
    execSync(`node dist/cli/main.js schema > ${SCHEMA}`, { cwd: REPO, stdio: 'pipe' });
    const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
    expect(pack.status, pack.stderr).toBe(0);
    const [packed] = JSON.parse(pack.stdout) as { files: { path: string }[] }[];
    expect(packed!.files.map((f) => f.path)).toContain(SCHEMA);
  });

  it('publishes the agent, not the local Pebble + BIND stack or the demo (they are for a checkout)', () => {
    const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
    expect(pack.status, pack.stderr).toBe(0);
    const paths = (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(paths).toContain('dist/cli/main.js');
    expect(paths.filter((p) => p.startsWith('dist/devstack/') || p.startsWith('dist/demo/'))).toEqual([]);
  });

  it('has no hand-written copy in git: dist/ is ignored and no config schema is tracked', () => {
    expect(execFileSync('git', ['check-ignore', SCHEMA], { cwd: REPO, encoding: 'utf8' }).trim()).toBe(SCHEMA);
    const tracked = execFileSync('git', ['ls-files', '--', '*.schema.json', '*schema*.json'], { cwd: REPO, encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(tracked).toEqual(['charts/certkeeper/values.schema.json']); // the chart's values, not the config
  });
});
