/**
 * `egru` command-line entry. Subcommands are small modules in ./commands; errors print as one line on
 * stderr with a non-zero exit code (2 = usage, 1 = failure).
 */
import type { Command } from './command.ts';
import { UsageError } from './command.ts';
import { EventFormatError } from '../events/errors.ts';
import { layerRunCommand } from './commands/layer-run.ts';
import { infoCommand } from './commands/info.ts';
import { convertCommand } from './commands/convert.ts';
import { sliceCommand } from './commands/slice.ts';
import { trainCommand } from './commands/train.ts';
import { evalCommand } from './commands/eval.ts';
import { simCommand } from './commands/sim.ts';
import { classifyCommand } from './commands/classify.ts';

const COMMANDS: Command[] = [
  // Each subcommand module is added here.
  layerRunCommand,
  infoCommand,
  convertCommand,
  sliceCommand,
  trainCommand,
  evalCommand,
  simCommand,
  classifyCommand,
];

function help(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length), 4);
  return [
    'egru — EGRU Studio command line (event files, EGRU engine, models)',
    '',
    'usage: egru COMMAND [options]    (egru COMMAND --help for details)',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`egru: unknown command '${name}'. Run 'egru --help'.\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(cmd.usage.endsWith('\n') ? cmd.usage : cmd.usage + '\n');
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`egru ${name}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof EventFormatError) {
      process.stderr.write(`egru ${name}: ${e.message}\n`);
      return 1;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && err.code === 'ENOENT') {
      process.stderr.write(`egru ${name}: no such file: ${err.path ?? err.message}\n`);
      return 1;
    }
    process.stderr.write(`egru ${name}: ${err?.message ?? String(e)}\n`);
    if (process.env.EGRU_DEBUG) console.error(e);
    return 1;
  }
}
