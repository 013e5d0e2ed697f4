// Throw-away TLS for local servers: a CA made for one run and a leaf for 127.0.0.1 and localhost
// signed by it, so a client trusts only this run's server. Made with openssl (installed with the
// stack's packages). Used by the devstack's Pebble, the tests' ACME proxy and the benches' proxy.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface LocalTlsOptions {
  /** The CA's common name, so a certificate seen in a trace says whose it is. */
  caName: string;
  /** How long both certificates are valid. */
  days: number;
}

export interface LocalTlsFiles {
  caPem: string;
  certPath: string;
  keyPath: string;
}

/** Writes `cert.pem` and `key.pem` (the leaf) into `dir`; the CA's key is removed once the leaf is signed. */
export async function writeLocalTls(dir: string, options: LocalTlsOptions): Promise<LocalTlsFiles> {
  const file = (name: string): string => path.join(dir, name);
  const openssl = (args: string[]): Promise<unknown> => execFileAsync('/usr/bin/openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const days = String(options.days);
  const ca = ['-subj', `/CN=${options.caName}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  await openssl(['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', days, ...ca]);
  await openssl(['req', ...ec, '-keyout', file('key.pem'), '-out', file('leaf.csr'), '-subj', '/CN=localhost']);
  const extensions = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ];
  await writeFile(file('leaf.ext'), `${extensions.join('\n')}\n`);
  const sign = ['-in', file('leaf.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-extfile', file('leaf.ext')];
  await openssl(['x509', '-req', ...sign, '-days', days, '-out', file('cert.pem')]);
  await rm(file('ca.key'));
  return { caPem: await readFile(file('ca.pem'), 'utf8'), certPath: file('cert.pem'), keyPath: file('key.pem') };
}

/** The same, as PEM text, leaving no file behind. */
export async function localTlsIdentity(options: LocalTlsOptions): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'certkeeper-tls-'));
  try {
    const files = await writeLocalTls(dir, options);
    return { caPem: files.caPem, certPem: await readFile(files.certPath, 'utf8'), keyPem: await readFile(files.keyPath, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
