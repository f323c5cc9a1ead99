/**
 * Access to the real third-party samples in ../shared/data (never copied into the repo).
 * Where the folder is absent, tests that need it are skipped and say so once.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_DATA = process.env.EGRU_SHARED_DATA ?? path.resolve(repoRoot, '..', 'shared', 'data');

let warned = false;
/** Absolute path of a file under shared/data, or null (with one console notice) when it is absent. */
export function sharedFile(rel: string): string | null {
  const p = path.join(SHARED_DATA, rel);
  if (existsSync(p)) return p;
  if (!warned) {
    warned = true;
    console.warn(`[tests] ${SHARED_DATA} is absent: tests on real third-party samples are SKIPPED.`);
  }
  return null;
}

export const hasSharedData = existsSync(SHARED_DATA);
