// What the storage backends themselves read back through codecs: a file lock's holder, a file
// log's lines, and a Kubernetes object's entries.json and bounded log fields. A value that is not
// what the codec says is the defined outcome (an unidentified holder, a skipped line or row,
// STATE_CORRUPT naming the field), never a cast that fails later or a message quoting the value.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CertkeeperError, describeError } from '../../../src/core/errors.js';
import { observeLock } from '../../../src/state/file-lock.js';
import { readLogNewestFirst } from '../../../src/state/storage/file/log-file.js';
import { decodeObject } from '../../../src/state/storage/kubernetes/objects.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ck-storage-codecs-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe("a file lock's holder", () => {
  it('is read when it is one, and is an unidentified holder when it is not', async () => {
    const file = path.join(tmp, 'lock');
    await fs.writeFile(file, JSON.stringify({ pid: 12, hostname: 'h', token: 't' }));
    expect((await observeLock(file))?.holder).toEqual({ pid: 12, hostname: 'h', startedAt: '', token: 't' });
    for (const text of [JSON.stringify({ pid: '12', hostname: 'h', token: 't' }), 'null', '{"pid": 12, "host']) {
      await fs.writeFile(file, text);
      expect((await observeLock(file))?.holder).toBeUndefined();
    }
  });
});

describe("a file log's lines", () => {
  it('skips a line that is not a log line', async () => {
    const file = path.join(tmp, 'history.jsonl');
    const line = { at: '2026-11-22T00:00:00.000Z', subject: 'www', kind: 'renew', body: '{}' };
    await fs.writeFile(
      file,
      [JSON.stringify(line), JSON.stringify({ ...line, body: 7 }), 'null', JSON.stringify({ ...line, kind: 'deploy' })].join('\n') + '\n',
    );
    const entries = await readLogNewestFirst(file, {});
    expect(entries.map((entry) => entry.kind)).toEqual(['deploy', 'renew']);
  });
});

describe('a Kubernetes object', () => {
  const where = 'ConfigMap certkeeper-www';
  const entry = { v: '1', at: '2026-11-22T00:00:00.000Z', b: Buffer.from('{}').toString('base64') };
  const decode = (data: Record<string, string>) => decodeObject('configmaps', { data }, where);
  const failure = (data: Record<string, string>): CertkeeperError => {
    try {
      decode(data);
    } catch (error) {
      if (error instanceof CertkeeperError) return error;
      throw error;
    }
    throw new Error('decoded');
  };

  it('an entries.json that maps nothing is STATE_CORRUPT naming the field (null was a TypeError)', () => {
    for (const text of ['null', '[1]', '"x"']) {
      const error = failure({ 'entries.json': text });
      expect(error.code).toBe('STATE_CORRUPT');
      expect(error.message).toContain('entries.json');
    }
  });

  it('an entry that is not {v, at, b} is STATE_CORRUPT naming its key', () => {
    const error = failure({ 'entries.json': JSON.stringify({ 'certs/www/record': entry, 'certs/www/current': { ...entry, b: 5 } }) });
    expect(error.code).toBe('STATE_CORRUPT');
    expect(error.message).toContain('certs/www/current');
  });

  it('a field that is not JSON never has its text quoted', () => {
    const error = failure({ 'entries.json': '{"certs/www/versions/1": {"v": "1", "b": SECRETSECRETSECRET}}' });
    expect(error.code).toBe('STATE_CORRUPT');
    expect(describeError(error)).not.toContain('SECRET');
  });

  it('a log row that is not one is skipped (it was kept as a row)', () => {
    const row = { at: '2026-11-22T00:00:00.000Z', subject: 'www', kind: 'renew', body: '{}' };
    const state = decode({ 'entries.json': JSON.stringify({ 'certs/www/record': entry }), 'log.history.json': JSON.stringify([row, { ...row, at: 5 }, null]) });
    expect(state.logs.get('history')).toEqual([row]);
    expect(state.entries.get('certs/www/record')?.version).toBe('1');
  });
});
