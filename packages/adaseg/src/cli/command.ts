// The command tree of the CLI and what a command gets to run with.
import { existsSync } from 'node:fs';
import { AdasegError, type ErrorCode } from '../errors.js';
import type { OptionSpec, Parsed } from './args.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  json: boolean;
  verbose: boolean;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Every option it takes, besides the global ones (the router parses them before run is called). */
  options?: OptionSpec[];
  subcommands?: Command[];
  /** Runs on the parsed arguments; returns the exit code. */
  run?(args: Parsed, io: Io): Promise<number>;
}

/**
 * A failure found by a command itself (exit code 1), with a code for `--json` output, e.g.
 * 'not-found' for a file or folder named on the command line that does not exist.
 */
export class CliError extends AdasegError {
  constructor(code: ErrorCode, message: string, file?: string) {
    super(code, message, { file });
    this.name = 'CliError';
  }
}

/** Throws CliError('not-found') unless `path` exists; `what` names it in the message ("checkpoint", "config"). */
export function mustExist(path: string, what: string): void {
  if (!existsSync(path)) throw new CliError('not-found', `${what} ${path} does not exist`, path);
}
