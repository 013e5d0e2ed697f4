// Reading the 0.1 state directory's files: a missing file is "nothing stored", a file that does
// not parse is STATE_CORRUPT naming it, any other failure STATE_IO naming it.

import { promises as fs, type Dirent } from 'node:fs';
import { z } from 'zod';
import { CertkeeperError, toCertkeeperError } from '../../core/errors.js';

const jsonObject = z.record(z.string(), z.unknown());

/** The file's text, or undefined when it does not exist. */
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined;
    throw ioError('read', file, error);
  }
}

/** The file's JSON value, or undefined when it does not exist. */
export async function readJsonFile(file: string): Promise<unknown> {
  const text = await readOptional(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not the parser's error as the cause: V8 quotes the text around the fault (an account's key).
    throw new CertkeeperError('STATE_CORRUPT', `${file} is not valid JSON`, { retryable: false });
  }
}

/** readJsonFile for files that hold one JSON object. */
export async function readJsonObject(file: string): Promise<Record<string, unknown> | undefined> {
  const value = await readJsonFile(file);
  if (value === undefined) return undefined;
  const parsed = jsonObject.safeParse(value);
  if (!parsed.success) throw new CertkeeperError('STATE_CORRUPT', `${file} does not hold a JSON object`, { retryable: false });
  return parsed.data;
}

/** Names of the real folders (not symlinks, not dot-folders) in `dir`; none when it does not exist. */
export async function folderNames(dir: string): Promise<string[]> {
  return (await entries(dir)).filter((entry) => entry.isDirectory() && !entry.name.startsWith('.')).map((entry) => entry.name);
}

/** Names of the `.json` files (not dot-files) in `dir`; none when it does not exist. */
export async function jsonFileNames(dir: string): Promise<string[]> {
  return (await entries(dir)).filter((entry) => entry.isFile() && entry.name.endsWith('.json') && !entry.name.startsWith('.')).map((entry) => entry.name);
}

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return [];
    throw ioError('list', dir, error);
  }
}

export function ioError(action: string, file: string, error: unknown): CertkeeperError {
  return new CertkeeperError('STATE_IO', `cannot ${action} ${file}: ${toCertkeeperError(error).message}`, { cause: error });
}

export function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
