// The command tree of the CLI and what a command gets to run with.
import type { OptionSpec } from './args.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  json: boolean;
  verbose: boolean;
  /** Options every command accepts (--help, --json, --verbose). */
  globalOptions: OptionSpec[];
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options?: OptionSpec[];
  subcommands?: Command[];
  /** Returns the exit code. */
  run?(argv: string[], io: Io): Promise<number>;
}
