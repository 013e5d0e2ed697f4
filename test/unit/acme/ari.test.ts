import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ariCertificateId } from '../../../src/acme/ari.js';
import { makeCertificate, makeSelfSigned } from '../../helpers/certs.js';

function akiHex(certPem: string): string {
  const text = execFileSync('/usr/bin/openssl', ['x509', '-noout', '-ext', 'authorityKeyIdentifier'], { input: certPem }).toString();
  const hex = /([0-9A-F]{2}(?::[0-9A-F]{2})+)/.exec(text)?.[1];
  if (!hex) throw new Error(`no AKI in ${text}`);
  return hex.replace(/:/g, '');
}

describe('ariCertificateId', () => {
  it('is base64url(AKI keyIdentifier) "." base64url(DER serial), keeping the sign byte', () => {
    // RFC 9773's example serial 0x0087654321: the leading zero byte stays.
    const { certPem } = makeCertificate({ domains: ['a.example'], serial: '87654321' });
    const [aki, serial] = ariCertificateId(certPem).split('.');
    expect(serial).toBe('AIdlQyE');
    expect(Buffer.from(aki!, 'base64url').toString('hex').toUpperCase()).toBe(akiHex(certPem));
  });

  it('keeps a serial without the high bit as it is', () => {
    const { certPem } = makeCertificate({ domains: ['a.example'], serial: '0102' });
    expect(ariCertificateId(certPem).split('.')[1]).toBe(Buffer.from([1, 2]).toString('base64url'));
  });

  it('works on self-signed certificates too (their AKI names themselves)', () => {
    expect(ariCertificateId(makeSelfSigned({ domains: ['a.example'] }).certPem)).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });
});
