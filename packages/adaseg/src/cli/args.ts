// What a command declares about its options (OptionSpec) and what it gets once they are parsed
// (Parsed); parser.ts parses them with commander. An option not declared, a missing or bad value
// is a UsageError (exit code 2).
import { AdasegError } from '../errors.js';

export type OptionType = 'string' | 'boolean' | 'integer';

export interface OptionSpec {
  name: string;
  type: OptionType;
  description: string;
  /** Value placeholder for help, e.g. DIR. */
  value?: string;
  choices?: readonly string[];
  /** integer: the smallest value accepted (a smaller one is a usage error `--name must be >= min`). */
  min?: number;
  /** A one-letter alias, e.g. h for -h (not listed in help; the description names it). */
  short?: string;
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
  const rows = specs.map((s) => [
    `--${s.name}${s.type === 'boolean' ? '' : ` ${s.value ?? s.type.toUpperCase()}`}`,
    s.description + (s.choices ? ` (${s.choices.join('|')})` : '') + (s.required ? ' (required)' : ''),
  ]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`).join('\n');
}
