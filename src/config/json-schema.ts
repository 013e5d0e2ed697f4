// The config's JSON Schema, for editors (yaml-language-server's `# yaml-language-server:
// $schema=...` line) and other tools. Generated from the zod schema (schema.ts) by zod's own
// z.toJSONSchema, never written by hand: `certkeeper schema` prints it and the build writes it to
// dist/certkeeper.schema.json. It describes the file as written, before loading:
//   - `${VAR}` may stand for any string (the loader expands it first), so a string with a pattern,
//     a format or a list of values also accepts a reference;
//   - each secret field may be given as its `*File` twin instead (secrets.ts), not both.
// What only loading can tell (a reference's target exists, a file can be read, a cron expression
// fires) stays with `certkeeper validate`.

import { z } from 'zod';
import { configSchema } from './schema.js';
import { isSecretField } from './secrets.js';

type JsonSchema = { [key: string]: unknown };

/** Draft 7: the newest that yaml-language-server (VS Code, Neovim, Helix...) supports in full. */
const TARGET = 'draft-7';

const ENV_REFERENCE: JsonSchema = {
  type: 'string',
  pattern: '\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}',
  description: 'An environment variable reference (${NAME}), expanded when the config is loaded.',
};

export function configJsonSchema(): JsonSchema {
  // io: 'input': what the file may say (a duration as "90s" or a number, defaults optional), not what loading makes of it.
  const generated = z.toJSONSchema(configSchema, { target: TARGET, io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const { $schema, ...body } = generated;
  const definitions = (body.definitions ?? {}) as Record<string, unknown>;
  return {
    $schema,
    title: 'certkeeper configuration',
    description: 'The config file of certkeeper (certkeeper.yaml). Generated from its zod schema; `certkeeper validate` checks the rest.',
    ...(adapt(body) as JsonSchema),
    definitions: { ...(adapt(definitions) as Record<string, unknown>), envReference: ENV_REFERENCE },
  };
}

/** The schema as text, as `certkeeper schema` prints it and the build writes it. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

/** Walks the generated schema, letting `${VAR}` stand for constrained strings and `*File` twins for secrets. */
function adapt(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(adapt);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    // Under `properties` and `definitions` the keys are names, not keywords.
    out[key] = key === 'properties' || key === 'definitions' ? mapValues(value as Record<string, unknown>, adapt) : adapt(value);
  }
  if (isConstrainedString(out)) {
    const { description, default: fallback, ...rest } = out;
    return {
      ...(description !== undefined ? { description } : {}),
      ...(fallback !== undefined ? { default: fallback } : {}),
      anyOf: [rest, { $ref: '#/definitions/envReference' }],
    };
  }
  if (out.type === 'object' && out.properties) addSecretFileTwins(out);
  return out;
}

function mapValues(record: Record<string, unknown>, fn: (value: unknown) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
}

/** A string the loader checks beyond "is a string": `${VAR}` written there would be refused by an editor. */
function isConstrainedString(node: JsonSchema): boolean {
  return node.type === 'string' && (node.pattern !== undefined || node.format !== undefined || node.enum !== undefined);
}

/** `tsigSecretFile: PATH` wherever `tsigSecret` may be; one of the two when the secret is required, never both. */
function addSecretFileTwins(node: JsonSchema): void {
  const properties = node.properties as Record<string, unknown>;
  const required = (node.required as string[] | undefined) ?? [];
  const rules: JsonSchema[] = [];
  for (const field of Object.keys(properties).filter(isSecretField)) {
    const twin = `${field}File`;
    properties[twin] = {
      type: 'string',
      minLength: 1,
      description: `A file holding ${field} (its contents, trailing newline trimmed), read when the config is loaded.`,
    };
    rules.push(required.includes(field) ? { oneOf: [{ required: [field] }, { required: [twin] }] } : { not: { required: [field, twin] } });
  }
  if (rules.length === 0) return;
  const left = required.filter((key) => !isSecretField(key));
  if (left.length > 0) node.required = left;
  else delete node.required;
  node.allOf = [...((node.allOf as JsonSchema[] | undefined) ?? []), ...rules];
}
