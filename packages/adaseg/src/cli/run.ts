// The CLI's router: `adaseg <command> [<subcommand>] [options]`. Exit codes: 0 ok, 1 failure,
// 2 usage error. Errors print without a stack trace unless --verbose.
import { errorInfo, exitCodeOf } from '../errors.js';
import { VERSION } from '../version.js';
import { formatOptions, type OptionSpec, type Parsed, suggest, UsageError } from './args.js';
import type { Command, Io } from './command.js';
import { applyEngineGroups } from './options.js';
import { parseArgs } from './parser.js';
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
  { name: 'help', type: 'boolean', short: 'h', description: 'show help for the command (also -h)' },
  { name: 'json', type: 'boolean', description: 'machine-readable output on stdout (logs and progress stay on stderr); errors as {"error": {...}}' },
  { name: 'verbose', type: 'boolean', description: 'stack traces on errors' },
];

/** The global flags, accepted anywhere on the command line (before or after the command words). */
const GLOBAL_FLAGS = new Set(['--help', '-h', '--json', '--verbose']);

const EXIT_CODES = 'Exit codes: 0 ok, 1 failure (missing file, bad config, corrupt data...), 2 usage error.';

/** `adaseg help [<command> [<subcommand>]]`: the help of that command, as `--help` gives it. */
const helpCommand: Command = {
  name: 'help',
  summary: 'the help of a command: adaseg help <command> [<subcommand>] (as adaseg <command> --help)',
  usage: 'adaseg help [<command> [<subcommand>]]',
  async run({ positionals }: Parsed, io: Io): Promise<number> {
    let cmd = ROOT;
    const path = ['adaseg'];
    for (const word of positionals) {
      const next = cmd.subcommands?.find((c) => c.name === word);
      if (next === undefined) {
        const known = cmd.subcommands?.map((c) => c.name) ?? [];
        const what =
          known.length > 0
            ? `unknown command '${word}' for ${path.join(' ')}${suggest(word, known, '')}`
            : `${path.join(' ')} has no subcommands, got '${word}'`;
        throw new UsageError(`${what} (try adaseg help${path.length > 1 ? ` ${path.slice(1).join(' ')}` : ''})`);
      }
      cmd = next;
      path.push(word);
    }
    io.out(help(cmd, path));
    return 0;
  },
};

/** The whole command tree (tests walk it, so every command is checked for --help and usage errors). */
export const ROOT: Command = {
  name: 'adaseg',
  summary: 'active domain adaptation for semantic segmentation',
  usage: 'adaseg <command> [options]',
  subcommands: [
    demoCommand,
    dataCommand,
    weightsCommand,
    ...trainCommands,
    adaptCommand,
    runCommand,
    reportCommand,
    serveCommand,
    usersCommand,
    labelsCommand,
    helpCommand,
  ],
};

function help(cmd: Command, path: string[]): string {
  const lines = [`${path.join(' ')}: ${cmd.summary}`, '', `Usage: ${cmd.usage}`];
  if (cmd.subcommands?.length) {
    lines.push('', 'Commands:');
    const w = Math.max(...cmd.subcommands.map((c) => c.name.length));
    for (const c of cmd.subcommands) lines.push(`  ${c.name.padEnd(w)}  ${c.summary}`);
  }
  const root = path.length === 1;
  lines.push(
    '',
    'Options:',
    formatOptions([
      ...(cmd.options ?? []),
      ...GLOBAL_OPTIONS,
      ...(root ? [{ name: 'version', type: 'boolean' as const, description: 'print the version' }] : []),
    ]),
  );
  if (root) lines.push('', `Run 'adaseg help <command>' or 'adaseg <command> --help' for a command's options.`, EXIT_CODES);
  else if (cmd.subcommands?.length) lines.push('', `Run '${path.join(' ')} <command> --help' for a command's options.`);
  return lines.join('\n');
}

/** What `--json` prints for a failure: errors.ts's, by the error's code. */
export { errorInfo };

const MAX_MESSAGE_LINES = 20;

/** A message of many lines (e.g. every mismatched tensor of a checkpoint) cut to its first lines; --verbose and --json keep it whole. */
function shorten(message: string): string {
  const lines = message.split('\n');
  if (lines.length <= MAX_MESSAGE_LINES) return message;
  return [...lines.slice(0, MAX_MESSAGE_LINES - 1), `  ... ${lines.length - MAX_MESSAGE_LINES + 1} more lines (--verbose shows them)`].join('\n');
}

/** The stack of an error and of its causes, for --verbose. */
function stacks(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    parts.push(depth === 0 ? (e.stack ?? String(e)) : `caused by: ${e.stack ?? String(e)}`);
    e = e.cause;
  }
  return parts.length > 0 ? parts.join('\n') : String(err);
}

export interface RunIo {
  out?: (text: string) => void;
  err?: (text: string) => void;
}

/**
 * Runs the CLI on argv (without node and script); returns the exit code: 0 ok, 1 failure, 2 usage
 * error. Failures print `<command>: error: <message>` on stderr (the stack only with --verbose) and,
 * with --json, `{"error": {"code", "message", ...}}` on stdout, so a script reading stdout always
 * gets one JSON document.
 */
export async function run(argv: readonly string[], runIo: RunIo = {}): Promise<number> {
  // Options after `--` are arguments, not flags.
  const flags = argv.indexOf('--') < 0 ? argv : argv.slice(0, argv.indexOf('--'));
  const io: Io = {
    out: runIo.out ?? ((t) => process.stdout.write(`${t}\n`)),
    err: runIo.err ?? ((t) => process.stderr.write(`${t}\n`)),
    json: flags.includes('--json'),
    verbose: flags.includes('--verbose'),
  };
  let cmd = ROOT;
  const path = ['adaseg'];
  try {
    // Walk down the command tree by leading words; global flags may come before them.
    const rest: string[] = [];
    let i = 0;
    for (; i < argv.length; i++) {
      const arg = argv[i];
      if (GLOBAL_FLAGS.has(arg)) {
        rest.push(arg);
        continue;
      }
      if (!cmd.subcommands || arg.startsWith('-')) break;
      const next = cmd.subcommands.find((c) => c.name === arg);
      if (next === undefined)
        throw new UsageError(
          `unknown command '${arg}' for ${path.join(' ')}${suggest(
            arg,
            cmd.subcommands.map((c) => c.name),
            '',
          )} (try ${path.join(' ')} --help)`,
        );
      cmd = next;
      path.push(arg);
    }
    rest.push(...argv.slice(i));
    const restFlags = rest.indexOf('--') < 0 ? rest : rest.slice(0, rest.indexOf('--'));
    if (restFlags.includes('--help') || restFlags.includes('-h')) {
      io.out(help(cmd, path));
      return 0;
    }
    if (cmd === ROOT && restFlags.includes('--version')) {
      const extra = restFlags.find((a) => a !== '--version' && !GLOBAL_FLAGS.has(a));
      if (extra !== undefined) throw new UsageError(`--version takes no other arguments, got '${extra}'`);
      io.out(io.json ? JSON.stringify({ version: VERSION }) : VERSION);
      return 0;
    }
    if (cmd.run === undefined) {
      const names = (cmd.subcommands ?? []).map((c) => c.name).join(', ');
      if (rest.every((a) => GLOBAL_FLAGS.has(a))) {
        io.err(help(cmd, path));
        throw new UsageError(`a command is needed (${names}) (try ${path.join(' ')} --help)`);
      }
      const option = rest.find((a) => a.startsWith('-') && !GLOBAL_FLAGS.has(a));
      if (option !== undefined)
        throw new UsageError(`unknown option ${option.split('=')[0]} for ${path.join(' ')}, which needs a command (${names}) (try ${path.join(' ')} --help)`);
      throw new UsageError(`a command is needed (${names}) (try ${path.join(' ')} --help)`);
    }
    const args = parseArgs(rest, [...(cmd.options ?? []), ...GLOBAL_OPTIONS]);
    await applyEngineGroups(cmd.options ?? [], args.options);
    return await cmd.run(args, io);
  } catch (err) {
    // Exit codes by error code (errors.ts): 2 for 'usage', 1 for every other failure.
    const info = errorInfo(err);
    if (exitCodeOf(err) === 2) {
      io.err(
        `${path.join(' ')}: ${info.message}${info.message.includes('--help') || info.message.includes('adaseg help') ? '' : ` (see ${path.join(' ')} --help)`}`,
      );
      if (io.json) io.out(JSON.stringify({ error: info }));
      return 2;
    }
    io.err(`${path.join(' ')}: error: ${io.verbose ? info.message : shorten(info.message)}`);
    if (io.verbose) io.err(stacks(err));
    if (io.json) io.out(JSON.stringify({ error: info }));
    return 1;
  }
}
