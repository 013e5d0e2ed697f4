// `certkeeper run` as a separate process (the compiled CLI), a webhook receiver on loopback, and
// polling with the daemon's output in the failure message: shared by the daemon tests.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLI } from './cli.js';

export interface Daemon {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const daemons: ChildProcess[] = [];

/** Starts `certkeeper --config <config> run` with only PATH in its environment. */
export function startDaemon(config: string): Daemon {
  const child = spawn(process.execPath, [CLI, '--config', config, 'run'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  daemons.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** SIGKILLs every daemon a test left running (for afterEach). */
export function killDaemons(): void {
  for (const child of daemons.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Polls `probe` until it returns a value; on timeout the error carries the daemon's last output. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, daemon?: Daemon): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${daemon ? `\n--- daemon output ---\n${daemon.output().slice(-4000)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export interface ReceivedAlert {
  type: string;
  cert: string;
  /** Every certificate the alert names (one, or a group's). */
  certs: string[];
  severity: string;
  message: string;
}

/**
 * A webhook receiver on loopback that keeps every alert body and answers 204. `port` (from
 * freePort) lets a test keep the receiver down first and bring it up on the port its config names.
 */
export async function startReceiver(port = 0): Promise<{ received: ReceivedAlert[]; receiver: http.Server; hookPort: number }> {
  const received: ReceivedAlert[] = [];
  const receiver = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push(JSON.parse(body) as ReceivedAlert);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    receiver.once('error', reject);
    receiver.listen(port, '127.0.0.1', resolve);
  });
  return { received, receiver, hookPort: (receiver.address() as AddressInfo).port };
}
