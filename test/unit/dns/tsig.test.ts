// Fixed vectors: TSIG-signed queries captured from BIND's `dig -y` (bind9-dnsutils 9.18), so the
// MAC computation is checked against an independent implementation byte for byte.

import { describe, expect, it } from 'vitest';
import { readTsig, signMessage, tsigKey, verifyResponse, type SignedMessage, type TsigAlgorithm } from '../../../src/dns/wire/tsig.js';

const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==';

interface DigVector {
  command: string;
  keyName: string;
  algorithm: TsigAlgorithm;
  captured: string;
  mac: string;
}

const VECTORS: DigVector[] = [
  {
    command: 'dig -y hmac-sha256:Test-Key.example:<SECRET> +noedns _acme-challenge.Example.TEST TXT',
    keyName: 'Test-Key.example',
    algorithm: 'hmac-sha256',
    captured:
      'cec4012000010000000000010f5f61636d652d6368616c6c656e6765074578616d706c650454455354000010000108746573742d6b6579076578616d706c650000fa00ff00000000003d0b686d61632d7368613235360000006b024fe1012c00208942708f9de7076642c591e58c6d8145cc07648c3c0c8d6d97303d28d9563fc3cec400000000',
    mac: '8942708f9de7076642c591e58c6d8145cc07648c3c0c8d6d97303d28d9563fc3',
  },
  {
    command: 'dig -y hmac-sha1:certkeeper:<SECRET> +noedns example.test SOA',
    keyName: 'certkeeper',
    algorithm: 'hmac-sha1',
    captured:
      '97af01200001000000000001076578616d706c65047465737400000600010a636572746b65657065720000fa00ff00000000002f09686d61632d736861310000006b024fe2012c001480b314bcb1ed37b3f23a75065123f597842fe10b97af00000000',
    mac: '80b314bcb1ed37b3f23a75065123f597842fe10b',
  },
  {
    command: 'dig -y hmac-sha512:certkeeper:<SECRET> +noedns example.test SOA',
    keyName: 'certkeeper',
    algorithm: 'hmac-sha512',
    captured:
      'bd9a01200001000000000001076578616d706c65047465737400000600010a636572746b65657065720000fa00ff00000000005d0b686d61632d7368613531320000006b024fe4012c00401c1f4344eeaf306f37cd5aab2d07803351f9eddd8acdbeaa8e0d46d3330caa966eccb987bf5b37e5540baeeae5b2d8af563e70b76fc7bbd54943fa4aff76b51e' +
      'bd9a00000000',
    mac: '1c1f4344eeaf306f37cd5aab2d07803351f9eddd8acdbeaa8e0d46d3330caa966eccb987bf5b37e5540baeeae5b2d8af563e70b76fc7bbd54943fa4aff76b51e',
  },
];

describe('TSIG signing matches dig -y', () => {
  for (const vector of VECTORS) {
    it(`${vector.algorithm}: ${vector.command}`, () => {
      const captured = Buffer.from(vector.captured, 'hex');
      const tsig = readTsig(captured)!;
      expect(tsig).toBeDefined();
      expect(tsig.mac.toString('hex')).toBe(vector.mac);
      // The message dig signed: everything before its TSIG RR, with ARCOUNT one lower.
      const unsigned = Buffer.from(captured.subarray(0, tsig.offset));
      unsigned.writeUInt16BE(captured.readUInt16BE(10) - 1, 10);

      const key = tsigKey(vector.keyName, vector.algorithm, SECRET);
      const signed = signMessage(unsigned, key, new Date(tsig.timeSigned * 1000), tsig.fudge);
      expect(signed.mac.toString('hex')).toBe(vector.mac);
      expect(signed.bytes.toString('hex')).toBe(vector.captured);
    });
  }

  it('reads the TSIG fields', () => {
    const tsig = readTsig(Buffer.from(VECTORS[0]!.captured, 'hex'))!;
    expect(tsig).toMatchObject({ keyName: 'test-key.example', algorithm: 'hmac-sha256', fudge: 300, error: 0, originalId: 0xcec4 });
    expect(tsig.timeSigned).toBe(0x6b024fe1);
  });

  it('returns undefined for an unsigned message', () => {
    const captured = Buffer.from(VECTORS[1]!.captured, 'hex');
    const unsigned = Buffer.from(captured.subarray(0, readTsig(captured)!.offset));
    unsigned.writeUInt16BE(0, 10);
    expect(readTsig(unsigned)).toBeUndefined();
  });
});

// A signed UPDATE and BIND 9.18's signed answer (key "certkeeper", hmac-sha256, SECRET), and
// BIND's answer to the same UPDATE signed with a wrong secret.
const BIND_EXCHANGE = {
  requestMac: '7eb14b18c1f3055392814dd87979fba1d4d8a47cefe7e3477ff12e4fcacc4443',
  response:
    '6e81a8000001000000000001076578616d706c65047465737400000600010a636572746b65657065720000fa00ff00000000003d0b686d61632d7368613235360000006b0250da012c002039e8681848e6fc8b7ff92a432743dd57a7d926a82b4019ab1ddff8e075c07a776e8100000000',
  badRequestMac: '8a95ba4672f3c4e4a0d4456e5b9d8083529439e240552e7558b4807b81a7fac3',
  badResponse:
    '6e81a8090001000000000001076578616d706c65047465737400000600010a636572746b65657065720000fa00ff00000000001d0b686d61632d7368613235360000006b0250da012c00006e8100100000',
};

describe('verifying BIND responses', () => {
  const key = tsigKey('certkeeper', 'hmac-sha256', SECRET);
  const response = Buffer.from(BIND_EXCHANGE.response, 'hex');
  const request = (mac: string): SignedMessage => ({ bytes: Buffer.alloc(0), mac: Buffer.from(mac, 'hex'), id: response.readUInt16BE(0) });
  const signedAt = new Date(readTsig(response)!.timeSigned * 1000);

  it('accepts the genuine response', () => {
    expect(verifyResponse(response, key, request(BIND_EXCHANGE.requestMac), signedAt)).toEqual({ status: 'verified' });
  });

  it('rejects a response whose bytes were altered', () => {
    const altered = Buffer.from(response);
    altered[3] = 0x05; // NOERROR → REFUSED
    expect(verifyResponse(altered, key, request(BIND_EXCHANGE.requestMac), signedAt)).toMatchObject({
      status: 'invalid',
      reason: expect.stringMatching(/MAC does not match/),
    });
  });

  it('rejects a response checked with the wrong secret', () => {
    const wrong = tsigKey('certkeeper', 'hmac-sha256', Buffer.from('another secret').toString('base64'));
    expect(verifyResponse(response, wrong, request(BIND_EXCHANGE.requestMac), signedAt).status).toBe('invalid');
  });

  it('rejects a response bound to another request', () => {
    expect(verifyResponse(response, key, request(BIND_EXCHANGE.badRequestMac), signedAt).status).toBe('invalid');
  });

  it('rejects a response signed too far from our clock', () => {
    const later = new Date(signedAt.getTime() + 301_000);
    expect(verifyResponse(response, key, request(BIND_EXCHANGE.requestMac), later)).toMatchObject({
      status: 'invalid',
      reason: expect.stringMatching(/fudge/),
    });
  });

  it('reports the server-side BADSIG of an unsigned NOTAUTH answer', () => {
    const bad = Buffer.from(BIND_EXCHANGE.badResponse, 'hex');
    expect(bad.readUInt16BE(2) & 0xf).toBe(9); // NOTAUTH
    expect(verifyResponse(bad, key, request(BIND_EXCHANGE.badRequestMac), signedAt)).toEqual({ status: 'server-error', error: 16, errorName: 'BADSIG' });
  });

  it('reports a response without TSIG as unsigned', () => {
    const tsig = readTsig(response)!;
    const stripped = Buffer.from(response.subarray(0, tsig.offset));
    stripped.writeUInt16BE(0, 10);
    expect(verifyResponse(stripped, key, request(BIND_EXCHANGE.requestMac), signedAt)).toEqual({ status: 'unsigned' });
  });
});
