/**
 * Crash-safe folder replacement for bundles and checkpoints: everything is written into a sibling temp folder,
 * flushed to disk, then swapped in by rename. A crash leaves either the old folder or the new one (or, in the
 * instant between the two renames, the old one under `<dir>.old-*`, which `recoverDir` puts back).
 */
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Flushes a written file to stable storage. */
export async function fsyncFile(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes a new version of `dir` through `fill(tmpDir)` and swaps it in. */
export async function replaceDir(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const abs = path.resolve(dir);
  await mkdir(path.dirname(abs), { recursive: true });
  const tag = `${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;
  const tmp = `${abs}.tmp-${tag}`;
  await mkdir(tmp);
  try {
    await fill(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await recoverDir(abs);
  if (await exists(abs)) {
    const old = `${abs}.old-${tag}`;
    await rename(abs, old);
    await rename(tmp, abs);
    await rm(old, { recursive: true, force: true });
  } else {
    await rename(tmp, abs);
  }
}

/** If a crash left `dir` missing but its previous version as `<dir>.old-*`, moves that back. */
export async function recoverDir(dir: string): Promise<void> {
  const abs = path.resolve(dir);
  if (await exists(abs)) return;
  const parent = path.dirname(abs);
  const base = path.basename(abs) + '.old-';
  let names: string[];
  try {
    names = (await readdir(parent)).filter((n) => n.startsWith(base)).sort();
  } catch {
    return;
  }
  if (names.length > 0) await rename(path.join(parent, names[names.length - 1]), abs);
}
