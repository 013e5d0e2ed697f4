// The 0.1 state directory's JSON files read through codecs (record.json, sinks/<sink>.json,
// meta.json, history.jsonl): a damaged file is reported by the one-time copy and left out, never
// copied into the store where every later read of it would fail.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import { emptyRecord } from '../../../src/state/contract.js';
import { LegacyState } from '../../../src/state/legacy/index.js';
import { parseMeta } from '../../../src/state/legacy/meta.js';
import { openStateStore } from '../../../src/state/open.js';
import { ManualClock } from '../../helpers/clock.js';

type LogLine = { level: string; obj: Record<string, unknown>; msg: string | undefined };

function recordingLogger(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (obj: Record<string, unknown> | string, msg?: string): void => {
      lines.push(typeof obj === 'string' ? { level, obj: {}, msg: obj } : { level, obj, msg });
    };
  const logger: Logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

const ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012';

let tmp: string;
let dir: string;
let logs: LogLine[];
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ck-legacy-codecs-'));
  dir = path.join(tmp, 'state');
  await fs.mkdir(path.join(dir, 'certs', 'www', 'sinks'), { recursive: true, mode: 0o700 });
  logs = [];
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const write = (rel: string, text: string) => fs.writeFile(path.join(dir, rel), text, { mode: 0o600 });
const open = () => openStateStore({ state: { type: 'file', dir, lockTtl: 120_000 }, agentId: 'test', clock: new ManualClock(), logger: recordingLogger(logs) });

describe('the one-time copy of a 0.1 folder', () => {
  it('leaves out a record.json with a field of the wrong type, says so naming the file, and still copies the sink data beside it', async () => {
    await write('certs/www/record.json', JSON.stringify({ deployed: { alb: 'AB01' }, consecutiveFailures: 'three' }));
    await write('certs/www/sinks/alb.json', JSON.stringify({ certificateArn: ARN, region: 'eu-west-1' }));
    const store = await open();
    // It used to be copied as it was, and every read of the record failed afterwards.
    expect(await store.getRecord('www')).toEqual(emptyRecord());
    expect(await store.getSinkState('www', 'alb')).toEqual({ certificateArn: ARN, region: 'eu-west-1' });
    const warned = logs.filter((line) => line.level === 'warn').map((line) => line.msg ?? '');
    expect(
      warned.some((msg) => msg.includes('record www') && msg.includes(path.join('certs', 'www', 'record.json')) && msg.includes('consecutiveFailures')),
    ).toBe(true);
  });

  it('fills in what an older release did not write', async () => {
    await write('certs/www/record.json', JSON.stringify({ deployed: { alb: 'AB01' } }));
    const store = await open();
    expect(await store.getRecord('www')).toEqual({ ...emptyRecord(), deployed: { alb: 'AB01', 'alb@test': 'AB01' } });
  });
});

describe('the 0.1 reader', () => {
  it('a record.json that holds no object, or is not JSON, is STATE_CORRUPT naming the file and never quoting it', async () => {
    const old = new LegacyState(dir);
    await write('certs/www/record.json', '["AB01"]');
    await expect(old.records.get('www')).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    await write('certs/www/record.json', '{"deployed": SECRETSECRETSECRET}');
    const error = await old.records.get('www').catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: 'STATE_CORRUPT' });
    expect(describeError(error)).toContain(path.join('certs', 'www', 'record.json'));
    expect(describeError(error)).not.toContain('SECRET');
  });

  it('skips, and counts, history lines whose fields are of the wrong type (they were taken as entries)', async () => {
    const entry = {
      at: '2026-03-01T00:00:00.000Z',
      cert: 'www',
      action: 'renew',
      result: 'success',
      serial: 'AB01',
      notAfter: '2026-05-30T00:00:00.000Z',
      durationMs: 1200,
      error: null,
    };
    await write(
      'history.jsonl',
      `${JSON.stringify(entry)}\n${JSON.stringify({ ...entry, durationMs: 'slow' })}\n${JSON.stringify({ ...entry, action: 'reboot' })}\n`,
    );
    const old = new LegacyState(dir, recordingLogger(logs));
    expect(await old.history.entries()).toEqual([entry]);
    expect(logs.find((line) => line.level === 'warn')?.obj).toMatchObject({ skipped: 2 });
  });

  it('meta.json: the required fields decide; a later detail that is not well-formed is read from cert.pem instead', () => {
    const meta = { directoryUrl: 'https://ca.test/dir', issuedAt: '2026-03-01T00:00:00.000Z', serial: 'AB01', notAfter: '2026-05-30T00:00:00.000Z' };
    expect(parseMeta(JSON.stringify({ ...meta, notBefore: 7, domains: ['a', 1], keyType: 'dsa', issuer: 'CN=CA' }))).toEqual({ ...meta, issuer: 'CN=CA' });
    expect(parseMeta(JSON.stringify({ directoryUrl: meta.directoryUrl, issuedAt: meta.issuedAt, serial: 171 }))).toEqual({
      directoryUrl: meta.directoryUrl,
      issuedAt: meta.issuedAt,
      serial: '171',
      notAfter: '',
    });
    expect(parseMeta(JSON.stringify({ ...meta, issuedAt: 'yesterday' }))).toBeUndefined();
    expect(parseMeta(JSON.stringify([meta]))).toBeUndefined();
    expect(parseMeta('{"directoryUrl": ')).toBeUndefined();
  });
});
