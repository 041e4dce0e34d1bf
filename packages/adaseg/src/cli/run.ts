// The CLI's router: `adaseg <command> [<subcommand>] [options]`. Exit codes: 0 ok, 1 failure,
// 2 usage error. Errors print without a stack trace unless --verbose.
import { DataError } from '../data/errors.js';
import { VERSION } from '../version.js';
import { formatOptions, type OptionSpec, UsageError } from './args.js';
import type { Command, Io } from './command.js';
import { dataCommand } from './data.js';
import { trainCommands } from './train.js';
import { weightsCommand } from './weights.js';
import { adaptCommand } from './adapt.js';
import { runCommand } from './active.js';
import { serveCommand, usersCommand } from './serve.js';
import { labelsCommand } from './labels.js';
import { demoCommand } from './demo.js';
import { reportCommand } from './report.js';

const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'help', type: 'boolean', description: 'show help for the command' },
  { name: 'json', type: 'boolean', description: 'machine-readable output' },
  { name: 'verbose', type: 'boolean', description: 'stack traces on errors' },
];

/** The whole command tree (tests walk it, so every command is checked for --help and usage errors). */
export const ROOT: Command = {
  name: 'adaseg',
  summary: 'active domain adaptation for semantic segmentation',
  usage: 'adaseg <command> [options]',
  subcommands: [demoCommand, dataCommand, weightsCommand, ...trainCommands, adaptCommand, runCommand, reportCommand, serveCommand, usersCommand, labelsCommand],
};

function help(cmd: Command, path: string[]): string {
  const lines = [`${path.join(' ')}: ${cmd.summary}`, '', `Usage: ${cmd.usage}`];
  if (cmd.subcommands?.length) {
    lines.push('', 'Commands:');
    const w = Math.max(...cmd.subcommands.map((c) => c.name.length));
    for (const c of cmd.subcommands) lines.push(`  ${c.name.padEnd(w)}  ${c.summary}`);
  }
  lines.push('', 'Options:', formatOptions([...(cmd.options ?? []), ...GLOBAL_OPTIONS, ...(path.length === 1 ? [{ name: 'version', type: 'boolean' as const, description: 'print the version' }] : [])]));
  return lines.join('\n');
}

export interface RunIo {
  out?: (text: string) => void;
  err?: (text: string) => void;
}

/** Runs the CLI on argv (without node and script); returns the exit code. */
export async function run(argv: readonly string[], runIo: RunIo = {}): Promise<number> {
  const io: Io = {
    out: runIo.out ?? ((t) => process.stdout.write(`${t}\n`)),
    err: runIo.err ?? ((t) => process.stderr.write(`${t}\n`)),
    json: argv.includes('--json'),
    verbose: argv.includes('--verbose'),
    globalOptions: GLOBAL_OPTIONS,
  };
  let cmd = ROOT;
  const path = ['adaseg'];
  let i = 0;
  try {
    // Walk down the command tree by leading words.
    while (cmd.subcommands && i < argv.length && !argv[i].startsWith('-')) {
      const next = cmd.subcommands.find((c) => c.name === argv[i]);
      if (next === undefined) throw new UsageError(`unknown command '${argv[i]}' for ${path.join(' ')} (try ${path.join(' ')} --help)`);
      cmd = next;
      path.push(argv[i++]);
    }
    const rest = argv.slice(i);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(help(cmd, path));
      return 0;
    }
    if (cmd === ROOT && rest.includes('--version')) {
      io.out(VERSION);
      return 0;
    }
    if (cmd.run === undefined) {
      if (rest.length === 0 || rest.every((a) => a === '--json' || a === '--verbose')) {
        io.err(help(cmd, path));
        return 2;
      }
      const option = rest.find((a) => a.startsWith('-') && !['--json', '--verbose'].includes(a));
      if (option !== undefined) throw new UsageError(`unknown option ${option.split('=')[0]} for ${path.join(' ')}, which needs a command (try ${path.join(' ')} --help)`);
      throw new UsageError(`${path.join(' ')} needs a command (try ${path.join(' ')} --help)`);
    }
    return await cmd.run([...rest], io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${path.join(' ')}: ${err.message}${err.message.includes('--help') ? '' : ` (see ${path.join(' ')} --help)`}`);
      if (io.json) io.out(JSON.stringify({ error: { code: 'usage', message: err.message } }));
      return 2;
    }
    const e = err as Error;
    io.err(`${path.join(' ')}: error: ${e?.message ?? String(err)}`);
    if (io.verbose && e?.stack) io.err(e.stack);
    if (io.json) io.out(JSON.stringify({ error: err instanceof DataError ? err.toInfo() : { code: 'error', message: e?.message ?? String(err) } }));
    return 1;
  }
}
