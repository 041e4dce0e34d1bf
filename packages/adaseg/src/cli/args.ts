// A small argument parser for the CLI: declared options only, --name value / --name=value,
// booleans as flags; anything else is a usage error (exit code 2).
import { AdasegError } from '../errors.js';

export type OptionType = 'string' | 'boolean' | 'integer';

export interface OptionSpec {
  name: string;
  type: OptionType;
  description: string;
  /** Value placeholder for help, e.g. DIR. */
  value?: string;
  choices?: readonly string[];
  /** Must be given (a missing one is a usage error naming it; shown as required in help). */
  required?: boolean;
}

export class UsageError extends AdasegError {
  constructor(message: string) {
    super('usage', message);
    this.name = 'UsageError';
  }
}

export interface Parsed {
  positionals: string[];
  options: Record<string, string | boolean | number | undefined>;
}

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): Parsed {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const options: Parsed['options'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      if (arg.startsWith('-') && arg !== '-') {
        if (arg === '-h') {
          options.help = true;
          continue;
        }
        throw new UsageError(`unknown option ${arg}`);
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = byName.get(name);
    if (spec === undefined) throw new UsageError(`unknown option --${name}${suggest(name, specs.map((s) => s.name), '--')}`);
    if (spec.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) {
      value = arg.slice(eq + 1);
      if (value === '') throw new UsageError(`--${name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
    } else {
      value = argv[++i];
      if (value === undefined || value.startsWith('--') || value === '') throw new UsageError(`--${name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
    }
    if (spec.choices && !spec.choices.includes(value)) throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}, got '${value}'`);
    if (spec.type === 'integer') {
      const n = /^\d+$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) throw new UsageError(`--${name} must be a non-negative integer, got '${value}'`);
      options[name] = n;
    } else options[name] = value;
  }
  // --help wins over anything missing (the router answers it before a command runs).
  if (!options.help) {
    const missing = specs.filter((s) => s.required && options[s.name] === undefined);
    if (missing.length > 0) {
      const names = missing.map((s) => `--${s.name}${s.value ? ` ${s.value}` : ''}`);
      throw new UsageError(`${names.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} required`);
    }
  }
  return { positionals, options };
}

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length];
}

/** `; did you mean --x?` for a mistyped name close to a known one (a typo or a prefix), else ''. */
export function suggest(name: string, known: readonly string[], prefix: string): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.startsWith(name) && name.length >= 2 ? 0.5 : distance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= (name.length <= 3 ? 1 : 2) ? `; did you mean ${prefix}${best}?` : '';
}

export function formatOptions(specs: readonly OptionSpec[]): string {
  const rows = specs.map((s) => [`--${s.name}${s.type === 'boolean' ? '' : ` ${s.value ?? s.type.toUpperCase()}`}`, s.description + (s.choices ? ` (${s.choices.join('|')})` : '') + (s.required ? ' (required)' : '')]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`).join('\n');
}
