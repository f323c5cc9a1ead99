/** A CLI subcommand. Each lives in core/cli/commands/<name>.ts and is listed in core/cli/main.ts. */
export interface Command {
  name: string;
  /** One line for `egru --help`. */
  summary: string;
  /** Full usage text for `egru NAME --help`. */
  usage: string;
  /** Returns the exit code. Throw for errors: main prints one clear line and exits non-zero. */
  run(args: string[]): Promise<number>;
}

/** Thrown for bad command-line usage (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Minimal flag parser: --k v, --k=v, boolean flags listed in `booleans`; the rest are positionals. */
export function parseArgs(args: string[], booleans: readonly string[] = []): { flags: Record<string, string | true>; positional: string[] } {
  const flags: Record<string, string | true> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      if (eq > 0) {
        flags[a.slice(2, eq)] = a.slice(eq + 1);
      } else {
        const k = a.slice(2);
        if (booleans.includes(k)) flags[k] = true;
        else {
          const v = args[i + 1];
          if (v === undefined) throw new UsageError(`--${k} needs a value`);
          flags[k] = v;
          i++;
        }
      }
    } else positional.push(a);
  }
  return { flags, positional };
}
