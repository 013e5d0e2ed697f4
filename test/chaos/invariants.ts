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

/** Problems with the certificate/key pairs under a state dir's certs/ and a files sink's out dir. */
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
  const certs = path.join(stateDir, 'certs');
  if (existsSync(certs)) {
    for (const name of readdirSync(certs)) {
      const live = path.join(certs, name, 'live');
      if (existsSync(live)) check(live, 'cert.pem', 'privkey.pem');
    }
  }
  if (existsSync(outDir)) {
    for (const name of readdirSync(outDir)) {
      const dir = path.join(outDir, name);
      if (!name.startsWith('.') && statSync(dir).isDirectory()) check(dir, 'cert.pem', 'privkey.pem');
    }
  }
  return problems;
}
