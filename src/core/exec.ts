// Running operator hooks: argv only (no shell), data through environment variables, a hard
// timeout that kills the whole process group, and output kept short for error messages.

import { spawn } from 'node:child_process';
import { CertkeeperError } from './errors.js';

export interface RunOptions {
  env: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  cwd?: string;
  /** What the command is, for error messages, e.g. `sink "reload-nginx"`. */
  label: string;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

const OUTPUT_LIMIT = 8192;

function tail(text: string, limit = 500): string {
  const trimmed = text.trim();
  return trimmed.length > limit ? `…${trimmed.slice(-limit)}` : trimmed;
}

/**
 * Runs argv[0] with argv[1..] and resolves when it exits 0. Rejects with HOOK_FAILED (non-zero
 * exit, could not start), HOOK_TIMEOUT, or CANCELLED. The child inherits PATH and HOME etc.
 * from this process plus `env`.
 */
export function runCommand(argv: string[], options: RunOptions): Promise<RunResult> {
  const [program, ...args] = argv;
  if (!program) return Promise.reject(new CertkeeperError('HOOK_FAILED', `${options.label}: empty command`, { retryable: false }));
  const started = performance.now();
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(program, args, {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout kills grandchildren too
      shell: false,
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    let timedOut = false;
    let cancelled = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < OUTPUT_LIMIT) stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < OUTPUT_LIMIT) stderr += chunk.toString('utf8');
    });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);
    const onAbort = (): void => {
      cancelled = true;
      killGroup();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    child.on('error', (error) => {
      finish(() =>
        reject(new CertkeeperError('HOOK_FAILED', `${options.label}: cannot run ${program}: ${error.message}`, { cause: error, retryable: false })),
      );
    });
    child.on('close', (code, signal) => {
      const durationMs = Math.round(performance.now() - started);
      finish(() => {
        if (cancelled) {
          reject(new CertkeeperError('CANCELLED', `${options.label}: cancelled`));
        } else if (timedOut) {
          reject(new CertkeeperError('HOOK_TIMEOUT', `${options.label}: ${program} did not finish within ${options.timeoutMs} ms`, { details: { stderr: tail(stderr) } }));
        } else if (code !== 0) {
          const how = code === null ? `was killed by ${signal}` : `exited with status ${code}`;
          const output = tail(stderr) || tail(stdout);
          reject(
            new CertkeeperError('HOOK_FAILED', `${options.label}: ${program} ${how}${output ? `: ${output}` : ''}`, {
              details: { exitCode: code, stderr: tail(stderr) },
            }),
          );
        } else {
          resolve({ exitCode: 0, stdout, stderr, durationMs });
        }
      });
    });
  });
}
