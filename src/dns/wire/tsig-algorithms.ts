// The TSIG algorithms certkeeper can sign with, apart from the signing code (tsig.ts) so the
// config schema can list them without loading dns-packet.

export const TSIG_ALGORITHMS = ['hmac-sha256', 'hmac-sha384', 'hmac-sha512', 'hmac-sha224', 'hmac-sha1'] as const;
export type TsigAlgorithm = (typeof TSIG_ALGORITHMS)[number];
