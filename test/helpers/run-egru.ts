/** Runs the real `egru` command (bin/egru.mjs) in a child process, as a user would, and collects its output. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const EGRU = path.join(REPO_ROOT, 'bin', 'egru.mjs');

export interface EgruRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `stopAfterFirstChunk` closes our end of stdout after the first data, so the command sees EPIPE (like `| head`). */
export function runEgru(args: string[], opts: { stopAfterFirstChunk?: boolean } = {}): Promise<EgruRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EGRU, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      stdout += d;
      if (opts.stopAfterFirstChunk) child.stdout.destroy();
    });
    child.stderr.on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
