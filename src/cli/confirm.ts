// Asking the operator a yes/no question on the terminal (renew --force over everything).

import { createInterface } from 'node:readline/promises';

/** Where the answer comes from (process.stdin unless a test gives one). */
export interface PromptInput {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** True only for "y" or "yes" (any case); anything else, or end of input, is no. */
export async function confirm(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, text: string): Promise<boolean> {
  const rl = createInterface({ input, output, terminal: false });
  try {
    const answer = await rl.question(text).catch(() => '');
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
