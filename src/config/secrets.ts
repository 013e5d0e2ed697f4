// The one list of secret fields. Each accepts a `<field>File` twin (read at load time), and
// the logger redacts every one of them (observe/redact.ts uses this list).

export const SECRET_FIELDS = [
  'tsigSecret',
  'hmacKey',
  'secretAccessKey',
  'sessionToken',
  'password',
  'token',
  'apiKey',
  'apiToken',
  'keyPem',
  'privateKey',
  'accountKey',
  'url', // notification webhooks (Slack, Teams) carry their credential in the URL
] as const;

export type SecretField = (typeof SECRET_FIELDS)[number];

const SECRET_SET: ReadonlySet<string> = new Set(SECRET_FIELDS);

export function isSecretField(key: string): boolean {
  return SECRET_SET.has(key);
}

/** `tsigSecretFile` → `tsigSecret`; undefined when the key is not a secret's file twin. */
export function secretFieldOfFileKey(key: string): string | undefined {
  if (!key.endsWith('File')) return undefined;
  const field = key.slice(0, -'File'.length);
  return SECRET_SET.has(field) ? field : undefined;
}
