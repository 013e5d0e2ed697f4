// The names of secret fields, at any depth of a config or a log object. Each accepts a
// `<field>File` twin (read at load time, config/secrets.ts), and the logger censors every one of
// them (observe/redact.ts). In core because both config loading and logging read it.

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
