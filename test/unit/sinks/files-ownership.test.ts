// Issue 16: a files sink's `owner:`/`group:` under the unprivileged systemd units (reproduced as
// nobody, a Node child running the compiled sink). Linux lets a process without CAP_CHOWN give its
// files only to a group it is in, and never to another owner: that works, the rest fails with
// EPERM, and the error says why and what to do instead of a bare "operation not permitted".

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CertificateMaterial } from '../../../src/core/types.js';
import { makeCertificate } from '../../helpers/certs.js';
import { NOBODY, ROOT, runAs, sharedTempDir, type ChildOutcome, type User } from '../../helpers/unprivileged.js';

const DEPLOY = `
const { createFilesSink } = await dist('sinks/files/index.js');
const { filesSinkSchema } = await dist('sinks/files/schema.js');
const { systemClock } = await dist('core/clock.js');
const { silentLogger } = await dist('core/logger.js');
const { memorySinkState } = await dist('sinks/contract.js');
const sink = createFilesSink(filesSinkSchema.parse({ type: 'files', ...input.config }), { name: 'web', clock: systemClock, logger: silentLogger, state: memorySinkState() });
const p = '/nonexistent/';
const result = await sink.deploy({ certName: 'www', domains: ['a.example'], serial: 'ABCDEF', notAfter: new Date(), material: input.material, paths: { cert: p, chain: p, fullchain: p, key: p } });
return result.paths;`;

function deploy(user: User, config: Record<string, unknown>, material: CertificateMaterial): Promise<ChildOutcome> {
  return runAs(user, DEPLOY, { config, material });
}

describe('files sink owner/group as nobody (the unprivileged unit)', () => {
  let tmp: string;
  let work: string;
  let material: CertificateMaterial;
  beforeEach(async () => {
    ({ tmp, work } = await sharedTempDir('ck-files-owner-', NOBODY));
    material = makeCertificate({ domains: ['a.example'] });
  });
  afterEach(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('gives the files to a group it is in (its own, nogroup): no privilege needed', async () => {
    const outcome = await deploy(NOBODY, { dir: path.join(work, '{cert}'), group: 'nogroup', keyMode: '0640' }, material);
    expect(outcome).toMatchObject({ ok: true });
    const key = await fs.stat(path.join(work, 'www', 'privkey.pem'));
    expect([key.uid, key.gid, key.mode & 0o777]).toEqual([NOBODY.uid, NOBODY.gid, 0o640]);
  });

  it('fails with EPERM for a group it is not in, naming the group and the usermod that fixes it', async () => {
    const outcome = await deploy(NOBODY, { dir: path.join(work, '{cert}'), group: 'root', keyMode: '0640' }, material);
    expect(outcome).toMatchObject({ ok: false, code: 'SINK_FAILED' });
    const message = (outcome as { message: string }).message;
    expect(message).toContain('EPERM');
    expect(message).toContain('group root');
    expect(message).toContain('usermod -aG root nobody');
    // Nothing half-made is left live.
    await expect(fs.lstat(path.join(work, 'www'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('fails with EPERM for another owner, saying that needs CAP_CHOWN and what to use instead', async () => {
    const outcome = await deploy(NOBODY, { dir: path.join(work, '{cert}'), owner: 'root' }, material);
    expect(outcome).toMatchObject({ ok: false, code: 'SINK_FAILED' });
    const message = (outcome as { message: string }).message;
    expect(message).toContain('EPERM');
    expect(message).toContain('owner root');
    expect(message).toContain('CAP_CHOWN');
    expect(message).toContain('group:');
  });
});

describe('files sink owner/group as root', () => {
  it('gives the files to any owner and group', async () => {
    const { tmp, work } = await sharedTempDir('ck-files-owner-root-', ROOT);
    try {
      const outcome = await deploy(
        ROOT,
        { dir: path.join(work, '{cert}'), owner: 'nobody', group: 'nogroup', keyMode: '0640' },
        makeCertificate({ domains: ['a.example'] }),
      );
      expect(outcome).toMatchObject({ ok: true });
      const key = await fs.stat(path.join(work, 'www', 'privkey.pem'));
      expect([key.uid, key.gid]).toEqual([NOBODY.uid, NOBODY.gid]);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  });
});
