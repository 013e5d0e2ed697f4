// Running operator hooks: argv only (no shell), data through environment variables, a hard
// timeout that kills the whole process group, and output kept short for error messages.
//
// A hook gets a minimal environment, not certkeeper's: the process holds AWS keys, TSIG and
// webhook variables that a reload script has no business seeing. Its output is the one foreign
// text that reaches errors verbatim, so it is redacted (core/redaction.ts) before it is cut.

import { spawn } from 'node:child_process';
import { CertkeeperError } from './errors.js';
import { redactText } from './redaction.js';

/** What a hook inherits from certkeeper's environment without `inheritEnv`. */
export const MINIMAL_ENV = ['PATH', 'HOME', 'LANG', 'TZ'] as const;

/** How much of a failed hook's output an error keeps: its end, where the reason usually is. */
export const HOOK_OUTPUT_LIMIT = 2048;

export interface RunOptions {
  /** The hook's own variables: its configured `env:` and the CERTKEEPER_* contract (these win). */
  env: Record<string, string>;
  /** More of certkeeper's environment: true for all of it, or the names to pass. Default: none. */
  inheritEnv?: boolean | readonly string[];
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

/**
 * Output kept per stream, from the end. Far more than HOOK_OUTPUT_LIMIT so that a secret cut at
 * the start of what is kept can never be in the part an error quotes (redaction is by value).
 */
const OUTPUT_KEEP = 16 * 1024;

function keepEnd(kept: string, chunk: string): string {
  const joined = kept + chunk;
  return joined.length > OUTPUT_KEEP ? joined.slice(-OUTPUT_KEEP) : joined;
}

/** The end of a hook's output for an error message: redacted first, then cut. */
function tail(text: string): string {
  const trimmed = redactText(text).trim();
  return trimmed.length > HOOK_OUTPUT_LIMIT ? `…${trimmed.slice(-HOOK_OUTPUT_LIMIT)}` : trimmed;
}

/** The child's environment: the minimal variables (or what inheritEnv asks for), then `env`. */
export function hookEnvironment(
  env: Record<string, string>,
  inheritEnv: boolean | readonly string[] = false,
  from: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  const names = inheritEnv === true ? Object.keys(from) : [...MINIMAL_ENV, ...(inheritEnv === false ? [] : inheritEnv)];
  for (const name of names) {
    const value = from[name];
    if (value !== undefined) out[name] = value;
  }
  return { ...out, ...env };
}

/**
 * Runs argv[0] with argv[1..] and resolves when it exits 0. Rejects with HOOK_FAILED (non-zero
 * exit, could not start), HOOK_TIMEOUT, or CANCELLED; the last HOOK_OUTPUT_LIMIT characters of
 * its output (stderr, else stdout), redacted, are in the message and nowhere else. The child
 * gets hookEnvironment(env, inheritEnv). `stdout`/`stderr` of the result are the output's end.
 */
export function runCommand(argv: string[], options: RunOptions): Promise<RunResult> {
  const [program, ...args] = argv;
  if (!program) return Promise.reject(new CertkeeperError('HOOK_FAILED', `${options.label}: empty command`, { retryable: false }));
  const started = performance.now();
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(program, args, {
      env: hookEnvironment(options.env, options.inheritEnv),
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
    // Decoded as streams, so a character split between chunks stays whole.
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout = keepEnd(stdout, chunk);
    });
    child.stderr.on('data', (chunk: string) => {
      stderr = keepEnd(stderr, chunk);
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
      finish(() => reject(new CertkeeperError('HOOK_FAILED', `${options.label}: cannot run ${program}: ${error.message}`, { cause: error, retryable: false })));
    });
    child.on('close', (code, signal) => {
      const durationMs = Math.round(performance.now() - started);
      finish(() => {
        if (cancelled) {
          reject(new CertkeeperError('CANCELLED', `${options.label}: cancelled`));
        } else if (timedOut) {
          const output = tail(stderr) || tail(stdout);
          reject(
            new CertkeeperError('HOOK_TIMEOUT', `${options.label}: ${program} did not finish within ${options.timeoutMs} ms${output ? `: ${output}` : ''}`),
          );
        } else if (code !== 0) {
          const how = code === null ? `was killed by ${signal}` : `exited with status ${code}`;
          const output = tail(stderr) || tail(stdout);
          // The output goes in the message only: details are logged beside it, and would say it twice.
          reject(new CertkeeperError('HOOK_FAILED', `${options.label}: ${program} ${how}${output ? `: ${output}` : ''}`, { details: { exitCode: code } }));
        } else {
          resolve({ exitCode: 0, stdout, stderr, durationMs });
        }
      });
    });
  });
}
