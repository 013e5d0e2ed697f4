// Redaction where an error enters certkeeper: the CertkeeperError constructor (message and string
// details), toCertkeeperError, and describeError over raw causes, all from one registry.

import { describe, expect, it } from 'vitest';
import { CertkeeperError, describeError, toCertkeeperError } from '../../src/core/errors.js';
import { REDACTED, redactStrings, redactText, registerSecrets } from '../../src/core/redaction.js';

const TSIG = 'dGhpcy1pcy1hLXRzaWctc2VjcmV0';
const TOKEN = 'tok"en\\with-quotes';
registerSecrets([TSIG, TOKEN, 'abc', '', undefined]);

describe('the secret registry', () => {
  it('scrubs registered values, their JSON-escaped form and PEM private keys, and ignores values under 4 characters', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';
    expect(redactText(`secret ${TSIG} and ${JSON.stringify(TOKEN)} and ${pem}`)).toBe(`secret ${REDACTED} and "${REDACTED}" and ${REDACTED}`);
    expect(redactText('abc stays')).toBe('abc stays');
  });

  it('redacts strings inside plain objects and arrays without touching the original', () => {
    const details = { stderr: `said ${TSIG}`, nested: { list: [TSIG, 3] }, when: new Date(0) };
    const redacted = redactStrings(details);
    expect(redacted).toEqual({ stderr: `said ${REDACTED}`, nested: { list: [REDACTED, 3] }, when: new Date(0) });
    expect(details.stderr).toContain(TSIG);
    const clean = { a: 'nothing secret' };
    expect(redactStrings(clean)).toBe(clean);
  });
});

describe('errors are redacted where they enter', () => {
  it('a CertkeeperError never holds a registered secret in its message or string details', () => {
    const error = new CertkeeperError('HOOK_FAILED', `hook said: key=${TSIG}`, { details: { stderr: TSIG, exitCode: 1 } });
    expect(error.message).toBe(`hook said: key=${REDACTED}`);
    expect(error.details).toEqual({ stderr: REDACTED, exitCode: 1 });
  });

  it('toCertkeeperError redacts a foreign error, and describeError each raw cause', () => {
    const foreign = new Error(`401 for token ${TSIG}`);
    expect(toCertkeeperError(foreign).message).toBe(`401 for token ${REDACTED}`);
    const wrapped = new CertkeeperError('DNS_UPDATE_FAILED', 'update refused', { cause: foreign });
    expect(describeError(wrapped)).toBe(`update refused: 401 for token ${REDACTED}`);
    expect(describeError(`plain ${TSIG}`)).toBe(`plain ${REDACTED}`);
  });

  it('describeError does not repeat a cause whose text the message already carries', () => {
    const hook = new CertkeeperError('HOOK_FAILED', 'dns provider "x" (present): hook.sh exited with status 1: DNS API said 401');
    const outer = new CertkeeperError('DNS_UPDATE_FAILED', `present of TXT _acme-challenge.example.test failed: ${hook.message}`, { cause: hook });
    const described = describeError(outer);
    expect(described.split('DNS API said 401')).toHaveLength(2);
    expect(described).toBe(outer.message);
  });
});
