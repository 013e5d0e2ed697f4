import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../../src/core/clock.js';
import { isCertkeeperError, type CertkeeperError } from '../../../src/core/errors.js';
import { memorySinkState } from '../../../src/sinks/contract.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { CertificateMaterial } from '../../../src/core/types.js';
import { keyMatchesCertificate, parseCertificate } from '../../../src/core/x509.js';
import type { DeployRequest } from '../../../src/sinks/contract.js';
import { createFilesSink, filesSinkFolderMode, resolveId } from '../../../src/sinks/files/index.js';
import { filesSinkSchema } from '../../../src/sinks/files/schema.js';
import { makeCertificate } from '../../helpers/certs.js';

/** One second per reading, so version folders sort in write order. */
function steppingClock(start = Date.parse('2026-06-01T00:00:00Z')): Clock {
  let t = start;
  return { now: () => new Date((t += 1000)), sleep: systemClock.sleep };
}

const isRoot = process.getuid?.() === 0;
const mode = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o777;

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-files-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

function sink(config: Record<string, unknown>) {
  return sinkAt(path.join(tmp, 'out', '{cert}'), config);
}

function sinkAt(dir: string, config: Record<string, unknown>) {
  const parsed = filesSinkSchema.parse({ type: 'files', dir, ...config });
  return createFilesSink(parsed, { name: 'web', clock: steppingClock(), logger: silentLogger, state: memorySinkState() });
}

function request(material: CertificateMaterial, certName = 'www'): DeployRequest {
  const info = parseCertificate(material.certPem);
  const stateDir = path.join(tmp, 'state');
  return {
    certName,
    domains: info.domains,
    serial: info.serial,
    notAfter: info.notAfter,
    material,
    paths: { cert: `${stateDir}/cert.pem`, chain: `${stateDir}/chain.pem`, fullchain: `${stateDir}/fullchain.pem`, key: `${stateDir}/privkey.pem` },
  };
}

describe('files sink', () => {
  it('writes the four files into {cert}, with 0644 certificates and a 0600 key, and returns their stable paths', async () => {
    const material = makeCertificate({ domains: ['a.example', '*.a.example'] });
    const files = sink({});
    const result = await files.deploy(request(material));

    const dir = path.join(tmp, 'out', 'www');
    // locate() gives the same paths without deploying (hooks of later runs need them).
    expect(files.locate?.('www')).toEqual(result.paths);
    expect(result.paths).toEqual({
      cert: path.join(dir, 'cert.pem'),
      chain: path.join(dir, 'chain.pem'),
      fullchain: path.join(dir, 'fullchain.pem'),
      key: path.join(dir, 'privkey.pem'),
    });
    expect(result.detail).toContain(dir);
    expect((await fs.lstat(dir)).isSymbolicLink()).toBe(true);
    expect(await fs.readFile(path.join(dir, 'cert.pem'), 'utf8')).toBe(material.certPem);
    expect(await fs.readFile(path.join(dir, 'chain.pem'), 'utf8')).toBe(material.chainPem);
    expect(await fs.readFile(path.join(dir, 'fullchain.pem'), 'utf8')).toBe(material.fullchainPem);
    expect(await fs.readFile(path.join(dir, 'privkey.pem'), 'utf8')).toBe(material.keyPem);
    for (const file of ['cert.pem', 'chain.pem', 'fullchain.pem']) expect(await mode(path.join(dir, file))).toBe(0o644);
    expect(await mode(path.join(dir, 'privkey.pem'))).toBe(0o600);
  });

  it('applies configured modes ("0640" as written in YAML)', async () => {
    await sink({ mode: '0640', keyMode: 640 }).deploy(request(makeCertificate({ domains: ['a.example'] })));
    const dir = path.join(tmp, 'out', 'www');
    expect(await mode(path.join(dir, 'cert.pem'))).toBe(0o640);
    expect(await mode(path.join(dir, 'privkey.pem'))).toBe(0o640);
  });

  it('switches the whole set at once, keeps `keep` previous versions and prunes older ones', async () => {
    const files = sink({ keep: 1 });
    const materials = [0, 1, 2].map(() => makeCertificate({ domains: ['a.example'] }));
    const dir = path.join(tmp, 'out', 'www');
    const versions: string[] = [];
    for (const material of materials) {
      await files.deploy(request(material));
      versions.push(await fs.realpath(dir));
      const [cert, key] = await Promise.all([fs.readFile(path.join(dir, 'cert.pem'), 'utf8'), fs.readFile(path.join(dir, 'privkey.pem'), 'utf8')]);
      expect(cert).toBe(material.certPem);
      expect(keyMatchesCertificate(cert, key)).toBe(true);
    }
    expect(new Set(versions).size).toBe(3);
    const kept = (await fs.readdir(path.join(tmp, 'out', '.www.versions'))).map((v) => path.join(tmp, 'out', '.www.versions', v)).sort();
    expect(kept).toEqual([versions[1], versions[2]].sort());
    expect(await fs.readFile(path.join(versions[1]!, 'privkey.pem'), 'utf8')).toBe(materials[1]!.keyPem);
  });

  it('refuses a real folder at the target with SINK_TARGET_EXISTS, moving and deleting nothing', async () => {
    const dir = path.join(tmp, 'out', 'www');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'cert.pem'), 'hand-made');

    const error = await sink({})
      .deploy(request(makeCertificate({ domains: ['a.example'] })))
      .catch((e: unknown) => e);

    expect(isCertkeeperError(error, 'SINK_TARGET_EXISTS')).toBe(true);
    expect((error as CertkeeperError).retryable).toBe(false);
    expect((error as Error).message).toContain('sink "web"');
    expect((error as Error).message).toContain(`${dir} already exists (a folder)`);
    expect((await fs.lstat(dir)).isDirectory()).toBe(true);
    expect(await fs.readFile(path.join(dir, 'cert.pem'), 'utf8')).toBe('hand-made');
    expect(await fs.readdir(path.join(tmp, 'out'))).toEqual(['www']);
  });

  it('refuses a file at the target, and a symlink there that points anywhere but its own versions', async () => {
    const out = path.join(tmp, 'out');
    await fs.mkdir(out, { recursive: true });
    await fs.writeFile(path.join(out, 'www'), 'a file\n');
    const first = await sink({})
      .deploy(request(makeCertificate({ domains: ['a.example'] })))
      .catch((e: unknown) => e);
    expect(isCertkeeperError(first, 'SINK_TARGET_EXISTS')).toBe(true);
    expect((first as Error).message).toContain('(a file)');
    expect(await fs.readFile(path.join(out, 'www'), 'utf8')).toBe('a file\n');

    // Into a versions folder of another name, or not named like a version: not certkeeper's link.
    for (const text of ['.other.versions/20260601T000001000Z-AB-abcdef', '.www.versions/notes', '/etc']) {
      await fs.rm(path.join(out, 'www'), { force: true });
      await fs.symlink(text, path.join(out, 'www'));
      const error = await sink({})
        .deploy(request(makeCertificate({ domains: ['a.example'] })))
        .catch((e: unknown) => e);
      expect(isCertkeeperError(error, 'SINK_TARGET_EXISTS'), text).toBe(true);
      expect(await fs.readlink(path.join(out, 'www'))).toBe(text);
    }
    expect(await fs.readdir(out)).toEqual(['www']);
  });

  it('keeps working on a deployment made by earlier releases (link into .www.versions, second or millisecond stamps)', async () => {
    const out = path.join(tmp, 'out');
    const versions = path.join(out, '.www.versions');
    const old = ['20250101T000000Z-0A1B-abcdef', '20250201T000000000Z-0C1D-123456'];
    for (const name of old) {
      await fs.mkdir(path.join(versions, name), { recursive: true });
      await fs.writeFile(path.join(versions, name, 'cert.pem'), name);
    }
    await fs.symlink(`.www.versions/${old[1]}`, path.join(out, 'www'));
    const material = makeCertificate({ domains: ['a.example'] });

    await sink({ keep: 1 }).deploy(request(material));

    expect(await fs.readFile(path.join(out, 'www', 'cert.pem'), 'utf8')).toBe(material.certPem);
    // The previous version stays for rollback; the one before is pruned.
    const left = await fs.readdir(versions);
    expect(left).toHaveLength(2);
    expect(left).toContain(old[1]);
    expect(left).not.toContain(old[0]);
  });

  it('prunes only real folders named like a version; everything else in the versions folder stays', async () => {
    const versions = path.join(tmp, 'out', '.www.versions');
    const victim = path.join(tmp, 'victim');
    const movedAside = '20240101T000000000Z-preexisting-abcdef'; // an earlier release's "moved aside" folder
    await fs.mkdir(victim, { recursive: true });
    await fs.writeFile(path.join(victim, 'precious'), 'x');
    await fs.mkdir(path.join(versions, 'backup'), { recursive: true });
    await fs.mkdir(path.join(versions, movedAside));
    await fs.writeFile(path.join(versions, movedAside, 'nginx.conf'), "the operator's");
    await fs.writeFile(path.join(versions, 'notes.txt'), 'n');
    await fs.symlink(victim, path.join(versions, '20240101T000000000Z-link-abcdef'));

    const files = sink({ keep: 0 });
    for (let i = 0; i < 3; i++) await files.deploy(request(makeCertificate({ domains: ['a.example'] })));

    const left = await fs.readdir(versions);
    for (const name of ['backup', movedAside, 'notes.txt', '20240101T000000000Z-link-abcdef']) expect(left).toContain(name);
    expect(await fs.readFile(path.join(versions, movedAside, 'nginx.conf'), 'utf8')).toBe("the operator's");
    expect(await fs.readdir(victim)).toEqual(['precious']);
    expect(left.filter((name) => name.startsWith('2026'))).toHaveLength(2); // the current one and the one it replaced
  });

  it.runIf(isRoot)('refuses a versions folder owned by another user (UNSAFE_PATH), writing nothing into it', async () => {
    const versions = path.join(tmp, 'out', '.www.versions');
    await fs.mkdir(versions, { recursive: true });
    await fs.chown(versions, 65534, 65534);

    const error = await sink({})
      .deploy(request(makeCertificate({ domains: ['a.example'] })))
      .catch((e: unknown) => e);

    expect(isCertkeeperError(error, 'UNSAFE_PATH')).toBe(true);
    expect((error as Error).message).toContain('belongs to uid 65534');
    expect(await fs.readdir(versions)).toEqual([]);
    await expect(fs.lstat(path.join(tmp, 'out', 'www'))).rejects.toThrow();
  });

  it('refuses a dangling symlink where it would create a parent folder', async () => {
    await fs.mkdir(path.join(tmp, 'out'));
    await fs.symlink(path.join(tmp, 'not-yet'), path.join(tmp, 'out', 'sites'));
    const error = await sinkAt(path.join(tmp, 'out', 'sites', '{cert}'), {})
      .deploy(request(makeCertificate({ domains: ['a.example'] })))
      .catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'UNSAFE_PATH')).toBe(true);
    await expect(fs.lstat(path.join(tmp, 'not-yet'))).rejects.toThrow();
  });

  it('creates its folders with modes from the file modes under umask 077, and leaves parents that existed alone', async () => {
    const previous = process.umask(0o077);
    try {
      await fs.mkdir(path.join(tmp, 'out'));
      await fs.chmod(path.join(tmp, 'out'), 0o711);
      await sinkAt(path.join(tmp, 'out', 'a', 'b', '{cert}'), {}).deploy(request(makeCertificate({ domains: ['a.example'] })));
      const version = await fs.realpath(path.join(tmp, 'out', 'a', 'b', 'www'));
      // Default modes 0644/0600: anyone may read cert.pem, so anyone may reach it.
      for (const folder of [path.join(tmp, 'out', 'a'), path.join(tmp, 'out', 'a', 'b'), path.join(tmp, 'out', 'a', 'b', '.www.versions'), version]) {
        expect([folder, await mode(folder)]).toEqual([folder, 0o755]);
      }
      expect(await mode(path.join(tmp, 'out'))).toBe(0o711);
    } finally {
      process.umask(previous);
    }
  });

  it.runIf(isRoot)("sets owner and group by name or number; the folders stay certkeeper's, in the group", async () => {
    await sink({ owner: 'nobody', group: 65534 }).deploy(request(makeCertificate({ domains: ['a.example'] })));
    const key = await fs.stat(path.join(tmp, 'out', 'www', 'privkey.pem'));
    expect([key.uid, key.gid]).toEqual([await resolveId('passwd', 'nobody'), 65534]);
    const version = await fs.stat(await fs.realpath(path.join(tmp, 'out', 'www')));
    expect([version.uid, version.gid]).toEqual([0, 65534]);
  });

  it('fails with SINK_FAILED naming the sink and the folder', async () => {
    await fs.writeFile(path.join(tmp, 'out'), 'a file where a folder should be');
    const error = await sink({})
      .deploy(request(makeCertificate({ domains: ['a.example'] })))
      .catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'SINK_FAILED')).toBe(true);
    expect((error as Error).message).toContain('sink "web"');
    expect((error as Error).message).toContain(path.join(tmp, 'out', 'www'));
    expect((error as Error).cause).toBeDefined();
  });

  it('fails with SINK_FAILED for an unknown owner, writing nothing', async () => {
    const error = await sink({ owner: 'no-such-user-certkeeper' })
      .deploy(request(makeCertificate({ domains: ['a.example'] })))
      .catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'SINK_FAILED')).toBe(true);
    expect((error as Error).message).toContain('no-such-user-certkeeper');
    await expect(fs.access(path.join(tmp, 'out'))).rejects.toThrow();
  });
});

describe('filesSinkFolderMode', () => {
  it('lets whoever may read a file reach it, and nobody else', () => {
    expect(filesSinkFolderMode([0o644, 0o600], false)).toBe(0o755);
    expect(filesSinkFolderMode([0o640, 0o640], false)).toBe(0o750);
    expect(filesSinkFolderMode([0o644, 0o640], false)).toBe(0o755);
    expect(filesSinkFolderMode([0o600, 0o600], false)).toBe(0o700);
    // A configured owner other than certkeeper's user passes through as "others", without listing.
    expect(filesSinkFolderMode([0o600, 0o600], true)).toBe(0o701);
    expect(filesSinkFolderMode([0o640, 0o600], true)).toBe(0o751);
  });
});

describe('resolveId', () => {
  it('accepts numbers, numeric strings and names', async () => {
    expect(await resolveId('passwd', 1234)).toBe(1234);
    expect(await resolveId('group', '1234')).toBe(1234);
    expect(await resolveId('passwd', 'root')).toBe(0);
    expect(await resolveId('group', 'root')).toBe(0);
  });

  it('rejects unknown names', async () => {
    await expect(resolveId('group', 'no-such-group-certkeeper')).rejects.toThrow(/no group named/);
  });
});
