import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../../src/core/clock.js';
import { isCertkeeperError } from '../../../src/core/errors.js';
import { memorySinkState } from '../../../src/sinks/contract.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { CertificateMaterial } from '../../../src/core/types.js';
import { keyMatchesCertificate, parseCertificate } from '../../../src/core/x509.js';
import type { DeployRequest } from '../../../src/sinks/contract.js';
import { createFilesSink, resolveId } from '../../../src/sinks/files/index.js';
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
  const parsed = filesSinkSchema.parse({ type: 'files', dir: path.join(tmp, 'out', '{cert}'), ...config });
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

  it('moves a pre-existing real folder aside as a previous version', async () => {
    const dir = path.join(tmp, 'out', 'www');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'cert.pem'), 'hand-made');
    const material = makeCertificate({ domains: ['a.example'] });

    await sink({}).deploy(request(material));

    expect((await fs.lstat(dir)).isSymbolicLink()).toBe(true);
    expect(await fs.readFile(path.join(dir, 'cert.pem'), 'utf8')).toBe(material.certPem);
    const versions = await fs.readdir(path.join(tmp, 'out', '.www.versions'));
    const preexisting = versions.find((v) => v.includes('preexisting'));
    expect(preexisting).toBeDefined();
    expect(await fs.readFile(path.join(tmp, 'out', '.www.versions', preexisting!, 'cert.pem'), 'utf8')).toBe('hand-made');
  });

  it.runIf(isRoot)('sets owner and group by name or number', async () => {
    await sink({ owner: 'nobody', group: 65534 }).deploy(request(makeCertificate({ domains: ['a.example'] })));
    const key = await fs.stat(path.join(tmp, 'out', 'www', 'privkey.pem'));
    expect([key.uid, key.gid]).toEqual([await resolveId('passwd', 'nobody'), 65534]);
    const version = await fs.stat(await fs.realpath(path.join(tmp, 'out', 'www')));
    expect(version.uid).toBe(key.uid);
  });

  it('fails with SINK_FAILED naming the sink and the folder', async () => {
    await fs.writeFile(path.join(tmp, 'out'), 'a file where a folder should be');
    const error = await sink({}).deploy(request(makeCertificate({ domains: ['a.example'] }))).catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'SINK_FAILED')).toBe(true);
    expect((error as Error).message).toContain('sink "web"');
    expect((error as Error).message).toContain(path.join(tmp, 'out', 'www'));
    expect((error as Error).cause).toBeDefined();
  });

  it('fails with SINK_FAILED for an unknown owner, writing nothing', async () => {
    const error = await sink({ owner: 'no-such-user-certkeeper' }).deploy(request(makeCertificate({ domains: ['a.example'] }))).catch((e: unknown) => e);
    expect(isCertkeeperError(error, 'SINK_FAILED')).toBe(true);
    expect((error as Error).message).toContain('no-such-user-certkeeper');
    await expect(fs.access(path.join(tmp, 'out'))).rejects.toThrow();
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
