// The live progress of a many-certificate renew (issue 18): a summary line with done, in flight,
// failed and an ETA at the pace so far, and only the latest rows still in flight below it.

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressView } from '../../../src/cli/progress.js';
import type { CertOutcome } from '../../../src/observe/stream.js';

function terminal(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns: 120 });
  return { stream, text: () => text };
}

const outcome = (cert: string, result: 'success' | 'failure'): CertOutcome => ({
  cert,
  action: 'renew',
  reason: 'forced',
  message: '',
  serial: '01',
  notAfter: null,
  durationMs: 1,
  deployed: [],
  result,
  ...(result === 'failure' ? { error: 'boom', code: 'ACME_ERROR' } : {}),
});

describe('ProgressView with many certificates', () => {
  it('counts done, in flight and failed, and draws at most ten rows', () => {
    const out = terminal();
    const view = new ProgressView(out.stream);
    for (let i = 0; i < 30; i++) view.onEvent({ type: 'cert_planned', cert: `c${i}`, action: 'renew', reason: 'forced', message: 'forced' });
    for (let i = 0; i < 12; i++) view.onEvent({ type: 'cert_done', outcome: outcome(`c${i}`, i === 3 ? 'failure' : 'success') });
    expect(view.summary()).toMatch(/^12\/30 done · 18 in flight · 1 failed · \S+ · ETA \S+$/);
    view.stop();
    const lastFrame = out.text().split('\x1b[0J').at(-1)!.trim().split('\n');
    expect(lastFrame[0]).toMatch(/^12\/30 done/);
    expect(lastFrame).toHaveLength(11);
    expect(lastFrame.slice(1).every((line) => line.startsWith('…'))).toBe(true);
  });
});
