import { describe, expect, it } from 'vitest';
import { editDistance, nearestKey } from '../../../src/config/suggest.js';

describe('the nearest key', () => {
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('emial', 'email')).toBe(1);
    expect(editDistance('sinkz', 'sinks')).toBe(1);
    expect(editDistance('', 'dns')).toBe(3);
    expect(editDistance('directry', 'directory')).toBe(1);
  });

  it('suggests within one edit for short keys, two up to 8 characters, three beyond; case is free', () => {
    const acme = ['directory', 'email', 'caBundle', 'eab', 'preferredChain', 'stagingDirectory', 'profile', 'lifetime', 'rateLimits'];
    expect(nearestKey('emial', acme)).toBe('email');
    expect(nearestKey('Email', acme)).toBe('email');
    expect(nearestKey('eba', acme)).toBe('eab');
    expect(nearestKey('ea', acme)).toBe('eab');
    expect(nearestKey('ratelimit', acme)).toBe('rateLimits');
    expect(nearestKey('prefferedChian', acme)).toBe('preferredChain');
    expect(nearestKey('colour', acme)).toBeUndefined();
    expect(nearestKey('x', acme)).toBeUndefined();
    expect(nearestKey('anything', [])).toBeUndefined();
  });
});
