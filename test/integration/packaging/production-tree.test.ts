// The container image's node_modules, built as the Dockerfile builds it: `npm ci --omit=dev`, then
// packaging/prune-production.sh (axios replaced by a stand-in that throws when called, type
// declarations and source maps dropped). The pruned tree must still run the main job end to end:
// the demo orders two certificates from a real Pebble through a real BIND with it.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../../helpers/cli.js';

const app = mkdtempSync(path.join(tmpdir(), 'ck-production-tree-'));
afterAll(() => rmSync(app, { recursive: true, force: true }));

describe('the production node_modules of the image', () => {
  it('is pruned of axios, declarations and maps, and still issues certificates', () => {
    for (const entry of ['package.json', 'package-lock.json', 'packaging']) cpSync(path.join(REPO, entry), path.join(app, entry), { recursive: true });
    // --prefer-offline: the test suite's own install has filled npm's cache.
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, stdio: 'pipe' });
    execFileSync('sh', [path.join(app, 'packaging/prune-production.sh'), app], { stdio: 'pipe' });

    const modules = path.join(app, 'node_modules');
    expect(JSON.parse(readFileSync(path.join(modules, 'axios/package.json'), 'utf8')).version).toMatch(/certkeeper-unused$/);
    expect(existsSync(path.join(modules, 'follow-redirects'))).toBe(false);
    expect(existsSync(path.join(modules, 'proxy-from-env'))).toBe(false);
    expect(existsSync(path.join(modules, '@types'))).toBe(false);
    const leftovers = execFileSync('find', [modules, '-type', 'f', '(', '-name', '*.d.ts', '-o', '-name', '*.map', ')'], { encoding: 'utf8' });
    expect(leftovers).toBe('');
    // The stand-in loads as acme-client expects and refuses to send anything.
    const probe = spawnSync(process.execPath, ['-e', "const acme = require('acme-client'); acme.axios.request({ url: 'http://127.0.0.1:9/' })"], {
      cwd: app,
      encoding: 'utf8',
    });
    expect(probe.status).toBe(1);
    expect(probe.stderr).toContain('axios.request() called: certkeeper ships no axios');

    // A copy, not a link: node resolves a linked file's imports from its real folder.
    cpSync(path.join(REPO, 'dist'), path.join(app, 'dist'), { recursive: true });
    const demo = spawnSync(process.execPath, [path.join(app, 'dist/demo/main.js')], { cwd: app, encoding: 'utf8', timeout: 120_000 });
    expect(demo.status, `${demo.stdout}\n${demo.stderr}`).toBe(0);
    expect(demo.stdout).toMatch(/^www\s+valid\s/m);
    expect(demo.stdout).toMatch(/^api\s+valid\s/m);
    expect(demo.stdout).toContain(`state file:${app}/demo/state/store`);
  });
});
