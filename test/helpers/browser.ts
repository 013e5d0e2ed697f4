// Headless Chromium for tests that look at a page as a person would: Debian's `chromium` package
// (installed as root like Pebble, else the test fails with the command), driven by playwright-core,
// which downloads no browser.

import { chromium, type Browser } from 'playwright-core';
import { ensurePackages } from '../../src/devstack/packages.js';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  ensurePackages([{ binary: CHROMIUM, debianPackage: 'chromium' }], (line) => process.stderr.write(`${line}\n`));
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  // Chromium refuses to sandbox itself as root; the pages it opens are the test's own.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: asRoot ? ['--no-sandbox'] : [] });
}
