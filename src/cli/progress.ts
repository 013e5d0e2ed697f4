// Live progress of a `renew` on a terminal: one line per certificate with its current step and
// elapsed time, redrawn in place; log lines print above it. Without a TTY the CLI logs events
// instead (see renew command).

import { formatDuration } from '../core/duration.js';
import type { CertOutcome, StreamEvent } from '../observe/stream.js';

interface Row {
  cert: string;
  text: string;
  started: number;
  finished?: number;
  mark: string;
}

const STEP_TEXT: Record<string, string> = {
  ordering: 'ordering',
  'dns-present': 'DNS record present',
  propagated: 'propagated',
  validated: 'validated',
  finalizing: 'finalizing',
  issued: 'issued',
  stored: 'stored',
  deploying: 'deploying',
  deployed: 'deployed',
};

/** Rows drawn at most; past it, the summary line and the latest rows still in flight. */
const MAX_ROWS = 10;

export class ProgressView {
  private readonly rows = new Map<string, Row>();
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: NodeJS.WriteStream) {}

  start(): void {
    this.timer = setInterval(() => this.draw(), 200);
    this.timer.unref();
  }

  onEvent(event: StreamEvent): void {
    const now = performance.now();
    switch (event.type) {
      case 'lock_wait':
        this.log(`waiting for another certkeeper run to finish (${event.holder})`);
        return;
      case 'cert_planned':
        if (event.action === 'skip') return;
        this.rows.set(event.cert, { cert: event.cert, text: `${event.action}: ${event.message}`, started: now, mark: '…' });
        break;
      case 'cert_step': {
        const row = this.rows.get(event.cert);
        if (row) row.text = `${STEP_TEXT[event.step] ?? event.step}${event.detail ? ` (${event.detail})` : ''}`;
        break;
      }
      case 'deployed': {
        const row = this.rows.get(event.cert);
        if (row) row.text = `${STEP_TEXT.deployed}${event.sink ? ` (${event.sink})` : ''}`;
        break;
      }
      case 'cert_done': {
        const row = this.rows.get(event.outcome.cert);
        if (row) {
          row.finished = now;
          row.mark = event.outcome.result === 'success' ? '✔' : event.outcome.result === 'failure' ? '✘' : '-';
          row.text = doneText(event.outcome);
        }
        break;
      }
    }
    this.draw();
  }

  /** Prints a line above the live block. */
  log(line: string): void {
    this.clear();
    this.out.write(line.endsWith('\n') ? line : `${line}\n`);
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.draw();
    this.drawnLines = 0;
  }

  private clear(): void {
    if (this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}A\x1b[0J`);
    this.drawnLines = 0;
  }

  /** `done/in flight/failed` and the ETA at the pace so far, for a run of several certificates. */
  summary(now = performance.now()): string {
    const rows = [...this.rows.values()];
    const done = rows.filter((row) => row.finished !== undefined);
    const failed = done.filter((row) => row.mark === '✘').length;
    const inFlight = rows.length - done.length;
    const started = Math.min(...rows.map((row) => row.started));
    const elapsed = now - started;
    const eta = done.length > 0 && inFlight > 0 ? ` · ETA ${formatDuration((elapsed / done.length) * inFlight)}` : '';
    return `${done.length}/${rows.length} done · ${inFlight} in flight · ${failed} failed · ${formatDuration(elapsed)}${eta}`;
  }

  private draw(): void {
    this.clear();
    if (this.rows.size === 0) return;
    // A terminal of unknown size (a bare pty, a serial console) reports 0 columns: not a width to cut to.
    const columns = this.out.columns || 100;
    const now = performance.now();
    // Many certificates (an incident's forced run): the counts, then the latest few still in flight.
    let shown = [...this.rows.values()];
    const header: string[] = [];
    if (shown.length > 1) header.push(this.summary(now));
    if (shown.length > MAX_ROWS) shown = shown.filter((row) => row.finished === undefined).slice(-MAX_ROWS);
    const width = Math.max(0, ...shown.map((row) => row.cert.length));
    const lines = [
      ...header,
      ...shown.map((row) => {
        const elapsed = formatDuration((row.finished ?? now) - row.started);
        const line = `${row.mark} ${row.cert.padEnd(width)}  ${elapsed.padStart(7)}  ${row.text}`;
        return line.length > columns - 1 ? `${line.slice(0, columns - 2)}…` : line;
      }),
    ];
    this.out.write(`${lines.join('\n')}\n`);
    this.drawnLines = lines.length;
  }
}

function doneText(outcome: CertOutcome): string {
  if (outcome.result === 'failure') return `failed${outcome.failedSink ? ` at ${outcome.failedSink}` : ''}: ${(outcome.error ?? '').split('\n')[0]}`;
  if (outcome.action === 'dry-run') return outcome.message;
  const issued = outcome.action === 'deploy' ? '' : `${outcome.action === 'issue' ? 'issued' : 'renewed'} ${outcome.serial ?? ''}`;
  const deployed = outcome.deployed.length > 0 ? `deployed to ${outcome.deployed.join(', ')}` : '';
  return [issued, deployed].filter(Boolean).join(', ');
}
