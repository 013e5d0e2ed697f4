// FileStorage specifics the shared storage suite cannot express: modes, symlinks planted in the
// state directory, torn log lines.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { FileStorage } from '../../../src/state/storage/file/index.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const mode = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o777;

let tmp: string;
let storage: FileStorage;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-fstorage-'));
  storage = await FileStorage.open({ dir: path.join(tmp, 'state'), clock: systemClock });
});
afterEach(async () => {
  await storage.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('FileStorage', () => {
  it('writes values 0600 in folders 0700', async () => {
    await storage.put('certs/www/current', bytes('{}'));
    expect(await mode(path.join(storage.root, 'certs/www/current'))).toBe(0o600);
    expect(await mode(path.join(storage.root, 'certs/www'))).toBe(0o700);
    expect(await mode(path.join(storage.root, 'certs'))).toBe(0o700);
  });

  it('refuses a planted symlinked folder and writes nothing through it', async () => {
    const victim = path.join(tmp, 'victim');
    await fs.mkdir(victim);
    await fs.writeFile(path.join(victim, 'keep.txt'), 'precious');
    await fs.mkdir(path.join(storage.root, 'certs'), { mode: 0o700 });
    await fs.symlink(victim, path.join(storage.root, 'certs', 'www'));
    await expect(storage.put('certs/www/current', bytes('x'))).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    await expect(storage.get('certs/www/current')).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    await expect(storage.getMany(['certs/api/current', 'certs/www/current'])).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    await expect(storage.delete('certs/www/current')).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    await expect(storage.list('certs/')).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    expect(await fs.readdir(victim)).toEqual(['keep.txt']);
  });

  it('refuses a value that is a symlink, for reading, replacing and deleting', async () => {
    const victim = path.join(tmp, 'victim.txt');
    await fs.writeFile(victim, 'precious');
    await storage.put('certs/www/record', bytes('{}'));
    await fs.symlink(victim, path.join(storage.root, 'certs/www/current'));
    await expect(storage.get('certs/www/current')).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    await expect(storage.getMany(['certs/www/record', 'certs/www/current'])).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    await expect(storage.put('certs/www/current', bytes('x'))).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    await expect(storage.delete('certs/www/current')).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    expect(await fs.readFile(victim, 'utf8')).toBe('precious');
  });

  it('getMany refuses a folder on the way that is a file, and reads past missing folders', async () => {
    await storage.put('certs/www/current', bytes('w'));
    await fs.writeFile(path.join(storage.root, 'certs/api'), 'not a folder');
    await expect(storage.getMany(['certs/www/current', 'certs/api/current'])).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    const found = await storage.getMany(['certs/www/current', 'certs/www/data/acme.ari', 'certs/none/data/x', 'nothing/at/all']);
    expect([...found.keys()]).toEqual(['certs/www/current']);
  });

  it('skips a torn last log line and keeps appending after it', async () => {
    await storage.appendLog('history', { at: new Date('2026-06-01T00:00:01Z'), subject: 'www', kind: 'renew', body: '{"n":1}' });
    await fs.appendFile(path.join(storage.root, 'logs/history.jsonl'), '{"at":"2026-06-01T00:00:02.000Z","subj'); // killed mid-write
    await storage.appendLog('history', { at: new Date('2026-06-01T00:00:03Z'), subject: 'www', kind: 'renew', body: '{"n":3}' });
    expect((await storage.readLog('history')).map((e) => e.body)).toEqual(['{"n":3}', '{"n":1}']);
  });

  it('reads a long log newest first across chunk boundaries, by subject and limit', async () => {
    for (let i = 0; i < 1500; i++) {
      await storage.appendLog('big', {
        at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
        subject: i % 3 === 0 ? 'www' : 'api',
        kind: '',
        body: JSON.stringify({ i, pad: 'x'.repeat(200) }),
      });
    }
    const newest = await storage.readLog('big', { subject: 'www', limit: 5 });
    expect(newest.map((e) => (JSON.parse(e.body) as { i: number }).i)).toEqual([1497, 1494, 1491, 1488, 1485]);
    expect((await storage.readLog('big')).length).toBe(1500);
  });
});

describe("the hooks' copy of a certificate (localDir/live/<name>)", () => {
  it('refuses a planted symlink at live and writes no key through it', async () => {
    const { RepositoryStore } = await import('../../../src/state/repository-store.js');
    const { makeCertificate } = await import('../../helpers/certs.js');
    const localDir = path.join(tmp, 'local');
    const victim = path.join(tmp, 'elsewhere');
    await fs.mkdir(localDir);
    await fs.mkdir(victim);
    await fs.symlink(victim, path.join(localDir, 'live'));
    const store = new RepositoryStore({ storage, clock: systemClock, localDir });
    await expect(
      store.putCertificate('www', makeCertificate({ domains: ['www.example.com'] }), { directoryUrl: 'https://ca.test/dir', issuedAt: new Date() }),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/^(UNSAFE_PATH|SINK_TARGET_EXISTS)$/),
    });
    expect(await fs.readdir(victim)).toEqual([]);
  });
});
