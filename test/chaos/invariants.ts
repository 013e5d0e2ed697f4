// What "nothing lost" means after a fault, checked on disk: every stored and deployed key belongs
// to its certificate, and no temp file is left where a reader would see it.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { keyMatchesCertificate } from '../../src/core/x509.js';

const TEMP = /\.tmp-\d+-[0-9a-f]+$/;

/** Every file under `root` (following no symlinks), relative paths. */
function walk(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    out.push(full);
    if (entry.isDirectory()) out.push(...walk(full));
  }
  return out;
}

export function tempFiles(...roots: string[]): string[] {
  return roots.flatMap(walk).filter((file) => TEMP.test(path.basename(file)));
}

/** Problems with the certificate/key pairs in a state dir's store and hook copies, and a files sink's out dir. */
export function keyMismatches(stateDir: string, outDir: string): string[] {
  const problems: string[] = [];
  const check = (dir: string, certFile: string, keyFile: string): void => {
    const cert = path.join(dir, certFile);
    const key = path.join(dir, keyFile);
    const hasCert = existsSync(cert);
    const hasKey = existsSync(key);
    if (!hasCert && !hasKey) return;
    if (hasCert !== hasKey) problems.push(`${dir}: ${hasCert ? 'certificate without key' : 'key without certificate'}`);
    else if (!keyMatchesCertificate(readFileSync(cert, 'utf8'), readFileSync(key, 'utf8'))) problems.push(`${dir}: key does not match certificate`);
  };
  // The store's current certificates (store/certs/<name>/current naming a version holding cert
  // and key), and the hooks' copies (live/<name>).
  const certs = path.join(stateDir, 'store', 'certs');
  if (existsSync(certs)) {
    for (const name of readdirSync(certs)) {
      const current = path.join(certs, name, 'current');
      if (!existsSync(current)) continue;
      const { version } = JSON.parse(readFileSync(current, 'utf8')) as { version: string };
      const versionFile = path.join(certs, name, 'versions', version);
      if (!existsSync(versionFile)) {
        problems.push(`${current}: names a version that is not stored`);
        continue;
      }
      const material = JSON.parse(readFileSync(versionFile, 'utf8')) as { certPem: string; keyPem: string };
      if (!keyMatchesCertificate(material.certPem, material.keyPem)) problems.push(`${versionFile}: key does not match certificate`);
    }
  }
  const live = path.join(stateDir, 'live');
  if (existsSync(live)) {
    for (const name of readdirSync(live)) if (!name.startsWith('.')) check(path.join(live, name), 'cert.pem', 'privkey.pem');
  }
  if (existsSync(outDir)) {
    for (const name of readdirSync(outDir)) {
      const dir = path.join(outDir, name);
      if (!name.startsWith('.') && statSync(dir).isDirectory()) check(dir, 'cert.pem', 'privkey.pem');
    }
  }
  return problems;
}
