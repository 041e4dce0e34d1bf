// Reading user configs (YAML/JSON/flags) into typed values, with errors that name the exact field
// (`train.optimizer.lr must be a positive number, got -1`).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AdasegError, type ErrorDetails } from '../errors.js';

/** A config value that does not check out; the message names the field (code 'config'). */
export class ConfigError extends AdasegError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('config', message, details);
    this.name = 'ConfigError';
  }
}

type Obj = Record<string, unknown>;

/** A config value as a message shows it: NaN and the infinities by name (JSON would say null). */
function shown(v: unknown): string {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v);
}

export class ConfigReader {
  constructor(
    private readonly value: Obj,
    readonly path: string,
  ) {}

  static root(value: unknown, what: string): ConfigReader {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${what} must be an object, got ${JSON.stringify(value)}`);
    return new ConfigReader(value as Obj, what);
  }

  private where(key: string): string {
    return `${this.path}.${key}`;
  }

  fail(key: string, message: string): never {
    throw new ConfigError(`${this.where(key)} ${message}`);
  }

  has(key: string): boolean {
    return this.value[key] !== undefined;
  }

  raw(key: string): unknown {
    return this.value[key];
  }

  /** Rejects keys other than those listed (typos must not pass silently). */
  only(keys: string[]): void {
    for (const k of Object.keys(this.value)) {
      if (!keys.includes(k)) throw new ConfigError(`${this.path} has an unknown key '${k}' (allowed: ${keys.join(', ')})`);
    }
  }

  object(key: string): ConfigReader;
  object(key: string, optional: true): ConfigReader | undefined;
  object(key: string, optional = false): ConfigReader | undefined {
    const v = this.value[key];
    if (v === undefined && optional) return undefined;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(key, `must be an object, got ${JSON.stringify(v)}`);
    return new ConfigReader(v as Obj, this.where(key));
  }

  string(key: string, fallback?: string): string {
    const v = this.value[key] ?? fallback;
    if (typeof v !== 'string' || v.length === 0) this.fail(key, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }

  optionalString(key: string): string | undefined {
    return this.value[key] === undefined ? undefined : this.string(key);
  }

  oneOf<T extends string>(key: string, values: readonly T[], fallback?: T): T {
    const v = this.value[key] ?? fallback;
    if (!values.includes(v as T)) this.fail(key, `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }

  number(key: string, fallback?: number, range: { min?: number; max?: number; exclusiveMin?: boolean } = {}): number {
    const v = this.value[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a number, got ${shown(v)}`);
    if (range.min !== undefined && (range.exclusiveMin ? v <= range.min : v < range.min)) {
      this.fail(key, `must be ${range.exclusiveMin ? '>' : '>='} ${range.min}, got ${v}`);
    }
    if (range.max !== undefined && v > range.max) this.fail(key, `must be <= ${range.max}, got ${v}`);
    return v;
  }

  positive(key: string, fallback?: number): number {
    return this.number(key, fallback, { min: 0, exclusiveMin: true });
  }

  integer(key: string, fallback?: number, min = 0): number {
    const v = this.value[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) this.fail(key, `must be an integer >= ${min}, got ${shown(v)}`);
    return v;
  }

  boolean(key: string, fallback?: boolean): boolean {
    const v = this.value[key] ?? fallback;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  array(key: string): unknown[] {
    const v = this.value[key];
    if (!Array.isArray(v)) this.fail(key, `must be a list, got ${JSON.stringify(v)}`);
    return v;
  }
}

/** Changes to a config's raw value before it is parsed (command-line flags over the file). */
export type ConfigOverrides = (config: Record<string, unknown>) => void;

/** The raw value of a YAML or JSON config file (not yet parsed into a config). Errors name the file. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (e) {
    throw new ConfigError(`config ${file} is not valid YAML/JSON: ${(e as Error).message}`);
  }
}

/**
 * Reads a YAML or JSON config file, applies `overrides` and parses it with `parse`, relative paths
 * in it being relative to the file. Errors name the file.
 */
export function loadConfigFile<T>(file: string, parse: (value: unknown, baseDir: string) => T, overrides: ConfigOverrides = () => {}): T {
  const value = readConfigFile(file);
  if (value !== null && typeof value === 'object') overrides(value as Record<string, unknown>);
  return parse(value, dirname(resolve(file)));
}
