// Splitting and checking what the CA returned.

import { describe, expect, it } from 'vitest';
import { splitCertificate } from '../../../src/acme/issuer.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { makeCertificate, makeSelfSigned } from '../../helpers/certs.js';

describe('splitCertificate', () => {
  it('separates leaf and chain and keeps the key', () => {
    const issued = makeCertificate({ domains: ['example.com', '*.example.com'] });
    const material = splitCertificate(issued.fullchainPem, issued.keyPem, ['example.com', '*.example.com']);
    expect(material.certPem).toBe(issued.certPem.endsWith('\n') ? issued.certPem : `${issued.certPem}\n`);
    expect(material.chainPem.trim()).toBe(issued.chainPem.trim());
    expect(material.fullchainPem).toBe(material.certPem + material.chainPem);
    expect(material.keyPem).toBe(issued.keyPem);
  });

  it('refuses a certificate for another key', () => {
    const issued = makeCertificate({ domains: ['example.com'] });
    const other = makeSelfSigned({ domains: ['example.com'] });
    expect(() => splitCertificate(issued.fullchainPem, other.keyPem, ['example.com'])).toThrow(/does not match our private key/);
  });

  it('refuses a certificate missing a requested name', () => {
    const issued = makeCertificate({ domains: ['example.com'] });
    try {
      splitCertificate(issued.fullchainPem, issued.keyPem, ['example.com', 'www.example.com']);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CertkeeperError);
      expect((error as CertkeeperError).details).toEqual({ missing: ['www.example.com'] });
    }
  });

  it('refuses an empty answer', () => {
    expect(() => splitCertificate('', 'key', ['example.com'])).toThrow(/no certificate/);
  });
});
