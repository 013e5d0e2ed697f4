// The one registry shape the DNS providers, sinks and notifiers share (src/core/registry.ts).

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineRegistry } from '../../src/core/registry.js';

const registry = defineRegistry({
  plain: {
    schema: z.object({ type: z.literal('plain'), size: z.number() }),
    create: (config: { size: number }) => `plain ${config.size}`,
    resolvePaths: (config: { type: 'plain'; size: number }, baseDir: string) => ({ ...config, size: config.size + baseDir.length }),
  },
  fancy: { schema: z.object({ type: z.literal('fancy') }), create: () => 'fancy' },
});

describe('defineRegistry', () => {
  it('lists the types in the order declared and keeps the entries as given', () => {
    expect(registry.types).toEqual(['plain', 'fancy']);
    expect(Object.keys(registry.entries)).toEqual(['plain', 'fancy']);
    expect(registry.get('fancy').create()).toBe('fancy');
  });

  it("gives each type's schema by type, the one its entry holds", () => {
    expect(Object.keys(registry.schemas)).toEqual(['plain', 'fancy']);
    expect(registry.schemas.plain).toBe(registry.entries.plain.schema);
    expect(registry.schemas.fancy.safeParse({ type: 'fancy' }).success).toBe(true);
  });

  it('knows its own types only, not names every object has', () => {
    expect(registry.has('plain')).toBe(true);
    expect(registry.has('toString')).toBe(false);
    expect(registry.has('constructor')).toBe(false);
    expect(registry.has('ftp')).toBe(false);
  });

  it("selects an entry by a config's type, and refuses a type it does not know", () => {
    const entry = registry.entryFor<{ create(config: { size: number }): string }>({ type: 'plain', size: 3 } as { type: string; size: number });
    expect(entry.create({ size: 3 })).toBe('plain 3');
    expect(() => registry.entryFor({ type: 'toString' })).toThrow('no plugin of type "toString"');
  });

  it("resolves a config's paths through its entry, and leaves a config whose entry has none alone", () => {
    expect(registry.resolvePaths({ type: 'plain', size: 1 }, '/etc')).toEqual({ type: 'plain', size: 5 });
    const fancy = { type: 'fancy' };
    expect(registry.resolvePaths(fancy, '/etc')).toBe(fancy);
  });
});
