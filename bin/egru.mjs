#!/usr/bin/env node
// The `egru` command: loads the TypeScript CLI through tsx (no build step; the same sources the tests run).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../core/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
