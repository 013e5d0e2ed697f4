// Running a piece of certkeeper as another user: tests run as root, and a test that means "as an
// unprivileged user" spawns a Node child with that uid and gid which imports the compiled dist/
// (built by the global setup) and prints its result as JSON.

import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './cli.js';

export interface User {
  name: string;
  uid: number;
  gid: number;
}

export const ROOT: User = { name: 'root', uid: 0, gid: 0 };
export const NOBODY: User = { name: 'nobody', uid: 65534, gid: 65534 };

/** What the child's script returned, or the error it threw (code and message). */
export type ChildOutcome = { ok: true; result: unknown } | { ok: false; code?: string; message: string };

let sharedNode: Promise<string> | undefined;

/**
 * A Node binary any user can run: process.execPath when every folder above it lets others
 * through, else a hard link to it (a copy across filesystems) in the temp folder, made once.
 */
export function nodeForEveryone(): Promise<string> {
  sharedNode ??= (async () => {
    let reachable = true;
    for (let dir = path.dirname(process.execPath); ; dir = path.dirname(dir)) {
      if (((await fs.stat(dir)).mode & 0o001) === 0) reachable = false;
      if (path.dirname(dir) === dir) break;
    }
    if (reachable && ((await fs.stat(process.execPath)).mode & 0o001) !== 0) return process.execPath;
    const dir = path.join(os.tmpdir(), `certkeeper-node-${process.version}`);
    const binary = path.join(dir, 'node');
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    await fs.chmod(dir, 0o755);
    const have = await fs.stat(binary).catch(() => undefined);
    if (have?.size !== (await fs.stat(process.execPath)).size) {
      const temp = `${binary}.${process.pid}`;
      await fs.link(process.execPath, temp).catch(() => fs.copyFile(process.execPath, temp));
      await fs.chmod(temp, 0o755);
      await fs.rename(temp, binary);
    }
    return binary;
  })();
  return sharedNode;
}

/**
 * Runs `body` (the body of an async ES module function; `input` holds `input`, `dist(p)` imports
 * dist/<p>) in a Node child as `user`, under `umask` when given.
 */
export async function runAs(user: User, body: string, input: unknown, options: { umask?: number } = {}): Promise<ChildOutcome> {
  const distUrl = pathToFileURL(path.join(REPO, 'dist')).href;
  const script = `
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const dist = (p) => import(${JSON.stringify(distUrl)} + '/' + p);
${options.umask === undefined ? '' : `process.umask(${options.umask});`}
try {
  const result = await (async () => { ${body} })();
  process.stdout.write(JSON.stringify({ ok: true, result: result ?? null }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, code: error?.code, message: String(error?.message ?? error) }));
}`;
  const node = await nodeForEveryone();
  return new Promise((resolve, reject) => {
    const child = spawn(node, ['--input-type=module', '-e', script], {
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(user.uid === process.getuid?.() ? {} : { uid: user.uid, gid: user.gid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(stdout) as ChildOutcome);
      } catch {
        reject(new Error(`child as ${user.name} exited ${code}: ${stderr || stdout}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

/** Reads `file` as uid/gid in a child (`cat`): its content, or undefined when refused. */
export function readAs(uid: number, gid: number, file: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn('cat', [file], { uid, gid, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve(code === 0 ? out : undefined));
  });
}

/** A fresh temp folder others can pass through (0755), with `work/` owned by `user` for it to write in. */
export async function sharedTempDir(prefix: string, user: User): Promise<{ tmp: string; work: string }> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(tmp, 0o755);
  const work = path.join(tmp, 'work');
  await fs.mkdir(work, { mode: 0o755 });
  await fs.chown(work, user.uid, user.gid);
  return { tmp, work };
}
