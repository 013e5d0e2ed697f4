import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { memorySinkState } from '../../../src/sinks/contract.js';
import { silentLogger } from '../../../src/core/logger.js';
import { createSink, isSinkType, sinkConfigSchema, sinkTypes } from '../../../src/sinks/registry.js';
import { locateSinkFiles, sinkCapabilities, sinkSchemas } from '../../../src/sinks/schema.js';

const sinksDir = fileURLToPath(new URL('../../../src/sinks/', import.meta.url));
const folders = readdirSync(sinksDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

describe('sink registry', () => {
  it('has exactly one entry per folder in src/sinks/', () => {
    expect(Object.keys(sinkTypes).sort()).toEqual(folders);
  });

  it('has the same types as the schema-only map the config uses (sinks/schema.ts)', () => {
    expect(Object.keys(sinkSchemas).sort()).toEqual(folders);
    expect(sinkConfigSchema.options).toHaveLength(folders.length);
  });

  it.each(folders)('folder %s has index.ts, schema.ts and README.md, and its schema accepts type "%s"', (name) => {
    expect(existsSync(path.join(sinksDir, name, 'index.ts'))).toBe(true);
    expect(existsSync(path.join(sinksDir, name, 'schema.ts'))).toBe(true);
    expect(readFileSync(path.join(sinksDir, name, 'README.md'), 'utf8').split('\n')[0]).toBe(`# \`${name}\` sink`);
    expect(isSinkType(name)).toBe(true);
    const schema = sinkTypes[name as keyof typeof sinkTypes].schema;
    expect(schema.shape.type.value).toBe(name);
  });

  it('builds the config union from every registered schema', () => {
    expect(sinkConfigSchema.parse({ type: 'files', dir: '/tmp/x/{cert}' })).toMatchObject({ type: 'files', keyMode: 0o600, keep: 1 });
    expect(sinkConfigSchema.parse({ type: 'exec', command: ['true'] })).toMatchObject({ type: 'exec', timeout: 60_000, env: {} });
    expect(sinkConfigSchema.parse({ type: 'acm', region: 'eu-west-1' })).toMatchObject({ type: 'acm', region: 'eu-west-1', tags: {} });
    expect(sinkConfigSchema.safeParse({ type: 'ftp' }).success).toBe(false);
    expect(sinkConfigSchema.safeParse({ type: 'files', dir: '/x', unknown: 1 }).success).toBe(false);
    expect(isSinkType('ftp')).toBe(false);
  });

  it('declares capabilities for every type, and the sink built agrees with them', () => {
    const ctx = { name: 'one', clock: systemClock, logger: silentLogger, state: memorySinkState() };
    const configs: Record<string, unknown> = {
      files: { type: 'files', dir: '/tmp/x/{cert}' },
      exec: { type: 'exec', command: ['true'] },
      acm: { type: 'acm', region: 'eu-west-1' },
      'kubernetes-secret': { type: 'kubernetes-secret', namespace: 'web' },
    };
    expect(Object.keys(configs).sort()).toEqual(folders);
    const declared: Record<string, unknown> = {};
    for (const [type, raw] of Object.entries(configs)) {
      const config = sinkConfigSchema.parse(raw);
      const capabilities = sinkCapabilities(config);
      declared[type] = capabilities;
      const sink = createSink(config, ctx);
      // A type writing files says where from its entry alone, as the built sink does.
      expect([sink.writesFiles, sink.locate === undefined, locateSinkFiles(config, 'www')], type).toEqual(
        capabilities.writesFiles ? [true, false, sink.locate?.('www')] : [false, true, undefined],
      );
      // A type that reloads servers is run again by verification; the built sink says so too.
      expect(sink.reloads, type).toBe(capabilities.reloads);
    }
    expect(declared).toEqual({
      files: { writesFiles: true, reloads: false, scope: 'local' },
      exec: { writesFiles: false, reloads: true, scope: 'local' },
      acm: { writesFiles: false, reloads: false, scope: 'shared' },
      'kubernetes-secret': { writesFiles: false, reloads: false, scope: 'shared' },
    });
  });

  it('creates a sink of each type with its name', () => {
    const ctx = { name: 'one', clock: systemClock, logger: silentLogger, state: memorySinkState() };
    const files = createSink(sinkConfigSchema.parse({ type: 'files', dir: '/tmp/x' }), ctx);
    const exec = createSink(sinkConfigSchema.parse({ type: 'exec', command: ['true'] }), { ...ctx, name: 'two' });
    const acm = createSink(sinkConfigSchema.parse({ type: 'acm', region: 'eu-west-1' }), { ...ctx, name: 'three' });
    expect([files.type, files.name, exec.type, exec.name, acm.type, acm.name]).toEqual(['files', 'one', 'exec', 'two', 'acm', 'three']);
  });
});
