// The CLI run in-process, its stdout and stderr collected: what most CLI tests call.
import { run } from '../../src/cli/run.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `adaseg <args>` in this process; returns the exit code and what it printed, line by line. */
export async function cli(args: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await run(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}
