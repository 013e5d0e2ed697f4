// Issue 14, items 1, 2 and 6: the files sink on hostile or mistaken paths, run as root and as an
// unprivileged user (a Node child as nobody running the compiled sink). Someone who can write the
// sink folder's parent plants a symlinked versions folder; a sink dir points at a real folder; a
// symlink elsewhere sits at the target; and under UMask=0077 a configured group still reads.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CertificateMaterial } from '../../../src/core/types.js';
import { makeCertificate } from '../../helpers/certs.js';
import { NOBODY, readAs, ROOT, runAs, sharedTempDir, type ChildOutcome, type User } from '../../helpers/unprivileged.js';

/** Deploys `material` through a files sink built from `config` (dir, mode, group, ...) in the child. */
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

function deploy(user: User, config: Record<string, unknown>, material: CertificateMaterial, umask?: number): Promise<ChildOutcome> {
  return runAs(user, DEPLOY, { config, material }, umask === undefined ? {} : { umask });
}

/** Every file under `dir` (not following symlinks) with its content. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const key = path.relative(dir, full);
    if (entry.isSymbolicLink()) out[key] = `-> ${await fs.readlink(full)}`;
    else if (entry.isDirectory()) out[key] = '<dir>';
    else out[key] = await fs.readFile(full, 'utf8');
  }
  return out;
}

const mode = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o777;

describe.each([ROOT, NOBODY])('files sink on hostile paths, as $name', (user) => {
  let tmp: string;
  let work: string;
  let material: CertificateMaterial;
  beforeEach(async () => {
    ({ tmp, work } = await sharedTempDir('ck-files-hostile-', user));
    material = makeCertificate({ domains: ['a.example'] });
  });
  afterEach(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  /** Makes `rel` under work/ as `user` would have: owned by them. */
  async function mkdirAs(rel: string): Promise<string> {
    const dir = path.join(work, rel);
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    await fs.chown(dir, user.uid, user.gid);
    return dir;
  }
  async function symlinkAs(target: string, rel: string): Promise<string> {
    const link = path.join(work, rel);
    await fs.symlink(target, link);
    await fs.lchown(link, user.uid, user.gid);
    return link;
  }

  it('refuses a symlinked .www.versions with UNSAFE_PATH: no key written where it points, nothing deleted there', async () => {
    const out = await mkdirAs('out');
    const victim = await mkdirAs('victim');
    await fs.writeFile(path.join(victim, 'victim.txt'), 'precious\n');
    // Named like a version folder: the old pruning would have deleted it.
    await mkdirAs('victim/20200101T000000000Z-old-abcdef');
    await fs.writeFile(path.join(victim, '20200101T000000000Z-old-abcdef', 'keep.txt'), 'keep\n');
    await fs.chown(path.join(victim, 'victim.txt'), user.uid, user.gid);
    await symlinkAs('../victim', 'out/.www.versions');
    const before = await snapshot(victim);

    const outcome = await deploy(user, { dir: path.join(out, '{cert}') }, material);

    expect(outcome).toMatchObject({ ok: false, code: 'UNSAFE_PATH', message: expect.stringContaining(path.join(out, '.www.versions')) });
    expect(await snapshot(victim)).toEqual(before);
    expect(JSON.stringify(await snapshot(victim))).not.toContain('PRIVATE KEY');
    expect(await fs.readlink(path.join(out, '.www.versions'))).toBe('../victim');
    await expect(fs.lstat(path.join(out, 'www'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a real folder at the target with SINK_TARGET_EXISTS: its content untouched, nothing moved', async () => {
    const out = await mkdirAs('out');
    const target = await mkdirAs('out/www');
    await fs.writeFile(path.join(target, 'nginx.conf'), 'server {}\n');
    const before = await snapshot(out);

    const outcome = await deploy(user, { dir: path.join(out, '{cert}') }, material);

    expect(outcome).toMatchObject({ ok: false, code: 'SINK_TARGET_EXISTS', message: expect.stringContaining(target) });
    expect((outcome as { message: string }).message).toContain(`mv ${target} ${target}.orig`);
    expect(await snapshot(out)).toEqual(before); // no .www.versions, nothing moved
  });

  it('refuses a symlink at the target that points elsewhere, leaving the link and what it points to alone', async () => {
    const out = await mkdirAs('out');
    const elsewhere = await mkdirAs('elsewhere');
    await fs.writeFile(path.join(elsewhere, 'cert.pem'), 'theirs\n');
    await symlinkAs('../elsewhere', 'out/www');
    const before = { out: await snapshot(out), elsewhere: await snapshot(elsewhere) };

    const outcome = await deploy(user, { dir: path.join(out, '{cert}') }, material);

    expect(outcome).toMatchObject({ ok: false, code: 'SINK_TARGET_EXISTS', message: expect.stringContaining('a symlink to ../elsewhere') });
    expect({ out: await snapshot(out), elsewhere: await snapshot(elsewhere) }).toEqual(before);
  });

  it('under umask 077 with group and keyMode 0640: folders it creates are 0750 in the group, and a member of the group reads cert.pem and the key', async () => {
    const out = await mkdirAs('out');
    const dir = path.join(out, 'sites', '{cert}');

    const outcome = await deploy(user, { dir, group: NOBODY.gid, mode: '0640', keyMode: '0640' }, material, 0o077);

    expect(outcome).toMatchObject({ ok: true });
    const live = path.join(out, 'sites', 'www');
    const version = await fs.realpath(live);
    for (const folder of [path.join(out, 'sites'), path.join(out, 'sites', '.www.versions'), version]) {
      const stat = await fs.stat(folder);
      expect([folder, stat.mode & 0o777, stat.uid, stat.gid]).toEqual([folder, 0o750, user.uid, NOBODY.gid]);
    }
    expect(await mode(out)).toBe(0o755); // a parent that existed is not changed
    for (const file of ['cert.pem', 'privkey.pem']) {
      const stat = await fs.stat(path.join(live, file));
      expect([file, stat.mode & 0o777, stat.gid]).toEqual([file, 0o640, NOBODY.gid]);
    }
    // A reader in the group that is not the files' owner: nobody itself when root deployed.
    const reader = user.uid === NOBODY.uid ? { uid: 64999, gid: NOBODY.gid } : NOBODY;
    expect(await readAs(reader.uid, reader.gid, path.join(live, 'cert.pem'))).toBe(material.certPem);
    expect(await readAs(reader.uid, reader.gid, path.join(live, 'privkey.pem'))).toBe(material.keyPem);
    // Anyone else is kept out.
    expect(await readAs(64998, 64998, path.join(live, 'cert.pem'))).toBeUndefined();
  });
});
