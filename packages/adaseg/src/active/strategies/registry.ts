// The strategy registry: every strategy kind as one entry { kind, keys, parse, create, describe,
// check }, exported by its family file (uncertainty.ts, diversity.ts, domain.ts, mix.ts). The
// config union StrategyConfig is derived from the entries, and config.ts is generic code over
// them. Adding a strategy: its class and entry in a family file (or a new file), one line here.
import type { ConfigReader } from '../../util/config-reader.js';
import type { Strategy, UnitConfig } from '../types.js';
import { aadaStrategy, madaStrategy, ripuStrategy } from './domain.js';
import { badgeStrategy, coresetStrategy, hybridStrategy, kmeansStrategy } from './diversity.js';
import { mixStrategy } from './mix.js';
import { baldStrategy, classBalancedStrategy, entropyStrategy, leastConfidenceStrategy, marginStrategy, randomStrategy } from './uncertainty.js';

/**
 * The generic functions of config.ts, handed to the entries that hold other strategies (a mix's
 * parts) so that no family file imports the registry back.
 */
export interface StrategyFunctions {
  parse(value: unknown, path: string): StrategyConfig;
  create(config: StrategyConfig): Strategy;
  describe(config: StrategyConfig): string;
  check(config: StrategyConfig, units: UnitConfig, where: string): void;
}

/** A strategy kind: how its config is read, built into a Strategy, labelled and checked. */
export interface StrategyEntry<C extends { strategy: string }> {
  /** The config's `strategy` value. */
  readonly kind: C['strategy'];
  /** Config keys besides `strategy` (any other key is refused before parse). */
  readonly keys: readonly string[];
  /** Reads the options (the reader holds the strategy's config object) and fills in defaults. */
  parse(r: ConfigReader, strategies: StrategyFunctions): C;
  create(config: C, strategies: StrategyFunctions): Strategy;
  /** A short label for reports (default: the kind). */
  describe?(config: C, strategies: StrategyFunctions): string;
  /**
   * Checks the config against the selection units at config load (after the units and budget
   * themselves are checked); `fail` throws a ConfigError naming the config.
   */
  check?(config: C, units: UnitConfig, fail: (message: string) => never, where: string, strategies: StrategyFunctions): void;
}

/** Every strategy kind, in the order error messages list them. */
export const STRATEGIES = [
  randomStrategy,
  classBalancedStrategy,
  leastConfidenceStrategy,
  marginStrategy,
  entropyStrategy,
  baldStrategy,
  kmeansStrategy,
  coresetStrategy,
  badgeStrategy,
  hybridStrategy,
  aadaStrategy,
  ripuStrategy,
  madaStrategy,
  mixStrategy,
] as const;

/**
 * Strategy configs: a discriminated union on `strategy` (one member per registry entry, its
 * options documented beside the entry), checked at load by parseStrategyConfig and turned into a
 * Strategy by createStrategy (config.ts).
 */
export type StrategyConfig = ReturnType<(typeof STRATEGIES)[number]['parse']>;

export type StrategyKind = StrategyConfig['strategy'];
