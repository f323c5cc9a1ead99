#!/usr/bin/env node
// Builds the native kernels with node-gyp at `npm install`. A failed build is not fatal: every kernel has a
// TypeScript reference, and the code reports which path is active. `--force` makes a failure an error.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const require = createRequire(import.meta.url);

let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  // npm ships its own node-gyp; its path is given to lifecycle scripts.
  gyp = process.env.npm_config_node_gyp;
}
if (!gyp) {
  console.warn('[egru-studio] node-gyp not found: native kernels not built, TypeScript reference kernels will be used.');
  process.exit(force ? 1 : 0);
}
const r = spawnSync(process.execPath, [gyp, 'rebuild', '--jobs', 'max'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.warn('[egru-studio] native build failed: TypeScript reference kernels will be used (slower). See the log above.');
  process.exit(force ? 1 : 0);
}
console.log('[egru-studio] native kernels built.');
