// The CLI's option parsing, on commander: a commander Command is generated from a command's
// declared options (OptionSpec, the tree in run.ts) and parses its arguments; this glue adds the
// CLI's conventions on top: every value checked by its spec (integers, minimums, choices) with a
// one-line usage error naming the option (exit code 2), a suggestion for a mistyped option,
// required options named with their value, and `--help` winning over anything missing. The help
// text stays ours (args.ts's formatOptions, run.ts's help): commander's wraps and reorders it.
//
// Why commander (issue 21): commander, cac and yargs were each given the whole command tree
// (16 commands) and timed, 20 runs of `node proto.mjs --help` / `--version` after 2 warm-ups, on
// the 2-core dev machine shared with other jobs (so figures vary by ~20%): bare `node -e ''` 86-111 ms;
// commander 97-163 / 87-176 ms; cac 89-130 / 87-112 ms; yargs 181-317 / 152-249 ms. Importing
// the module alone: commander 10-13 ms, cac 4-10 ms, yargs 63 ms. `adaseg --help` / `--version`
// (bin/adaseg.js on dist/, 20 runs, machine idle): 516-522 / 529-539 ms before the switch, 523-531
// / 517-547 ms on commander: the same, as start-up is the eager loading of libtorch, sharp and
// SQLite, not parsing (yargs would add ~60 ms, cac ~5 ms less than commander). cac has no nested
// subcommands (`users add`), no error codes to map (its errors are message strings), `--version`
// prints the platform, and mri coerces its numbers ('1e3' becomes 1000); yargs negates `--no-*`
// options, camel-cases names and has the slowest start. commander: nested commands, CommanderError codes with
// exitOverride, parse hooks per option (argParser), typings in the package.
import { Command, CommanderError, Option } from 'commander';
import { type OptionSpec, type Parsed, suggest, UsageError } from './args.js';

/** `--x needs a value (N)`: a missing or empty value. */
function needsValue(spec: OptionSpec): UsageError {
  return new UsageError(`--${spec.name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
}

/** The checks of one value by its spec; thrown errors leave commander as they are (not its InvalidArgumentError). */
function checkValue(spec: OptionSpec, value: string): string | number {
  if (value === '' || value.startsWith('--')) throw needsValue(spec);
  if (spec.choices && !spec.choices.includes(value)) throw new UsageError(`--${spec.name} must be one of ${spec.choices.join(', ')}, got '${value}'`);
  if (spec.type !== 'integer') return value;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${spec.name} must be a non-negative integer, got '${value}'`);
  if (spec.min !== undefined && n < spec.min) throw new UsageError(`--${spec.name} must be >= ${spec.min}`);
  return n;
}

/** The commander Command that parses `specs`: errors thrown, nothing printed, no help or version of its own. */
function commandOf(specs: readonly OptionSpec[]): { command: Command; options: Map<OptionSpec, Option> } {
  const command = new Command()
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments();
  const options = new Map<OptionSpec, Option>();
  for (const spec of specs) {
    const flags = `${spec.short ? `-${spec.short}, ` : ''}--${spec.name}${spec.type === 'boolean' ? '' : ` <${spec.value ?? spec.type.toUpperCase()}>`}`;
    const option = new Option(flags, spec.description);
    if (spec.type !== 'boolean') option.argParser((value: string) => checkValue(spec, value));
    command.addOption(option);
    options.set(spec, option);
  }
  return { command, options };
}

/**
 * Parses a command's arguments against its declared options: --name value, --name=value,
 * booleans as flags, `--` ends the options. Anything undeclared, a missing or bad value or a
 * missing required option is a UsageError (exit code 2) naming the option.
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): Parsed {
  const { command, options } = commandOf(specs);
  let operands: string[];
  let unknown: string[];
  try {
    ({ operands, unknown } = command.parseOptions([...argv]));
  } catch (err) {
    // An option needing a value was the last argument (commander names it only in prose).
    if (err instanceof CommanderError && err.code === 'commander.optionMissingArgument') {
      const spec = specs.find((s) => `--${s.name}` === argv[argv.length - 1] || (s.short !== undefined && `-${s.short}` === argv[argv.length - 1]));
      if (spec !== undefined) throw needsValue(spec);
    }
    throw err;
  }
  if (unknown.length > 0) {
    // The first unknown argument is an option (commander keeps operands before it).
    const arg = unknown[0];
    if (!arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = specs.find((s) => s.name === name);
    if (spec?.type === 'boolean') throw new UsageError(`--${name} takes no value`);
    throw new UsageError(
      `unknown option --${name}${suggest(
        name,
        specs.map((s) => s.name),
        '--',
      )}`,
    );
  }
  const parsed: Parsed['options'] = {};
  for (const [spec, option] of options) {
    const key = option.attributeName();
    if (command.getOptionValueSource(key) !== 'cli') continue;
    // `--no-x` is stored by commander as x = false; the CLI names it by its flag.
    parsed[spec.name] = spec.type === 'boolean' ? true : (command.getOptionValue(key) as string | number);
  }
  // --help wins over anything missing (the router answers it before a command runs).
  if (!parsed.help) {
    const missing = specs.filter((s) => s.required && parsed[s.name] === undefined);
    if (missing.length > 0) {
      const names = missing.map((s) => `--${s.name}${s.value ? ` ${s.value}` : ''}`);
      throw new UsageError(`${names.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} required`);
    }
  }
  return { positionals: operands, options: parsed };
}

/** `unexpected argument 'x'` for a command that takes none. */
export function noPositionals(positionals: readonly string[], hint = ''): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'${hint}`);
}
