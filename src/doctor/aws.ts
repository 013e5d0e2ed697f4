// How the doctor words AWS SDK errors: the SDK keeps the error code (AccessDenied,
// InvalidClientTokenId, …) out of the message, and the code is what tells an operator what to fix.

import { describeError, isCertkeeperError } from '../core/errors.js';

/** AWS answers that mean the credentials themselves are wrong (as opposed to lacking a permission). */
const AWS_CREDENTIAL_ERRORS = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'ExpiredToken',
  'ExpiredTokenException',
  'MissingAuthenticationToken',
  'CredentialsProviderError',
]);
export const AWS_PERMISSION_ERRORS = new Set(['AccessDenied', 'AccessDeniedException']);

/** An AWS SDK error as one line: its error code (which the SDK keeps out of the message) and a hint. */
export function awsProblem(error: unknown): string {
  const code = (error as { name?: unknown } | undefined)?.name;
  const text = describeError(error);
  if (typeof code !== 'string' || code === 'Error' || isCertkeeperError(error) || text.startsWith(code)) return text;
  const hint = AWS_CREDENTIAL_ERRORS.has(code)
    ? ' (check the AWS credentials)'
    : AWS_PERMISSION_ERRORS.has(code)
      ? ' (the credentials lack this permission)'
      : '';
  return `${code}: ${text}${hint}`;
}

export function awsCode(error: unknown): string | undefined {
  const code = (error as { name?: unknown } | undefined)?.name;
  return typeof code === 'string' ? code : undefined;
}
