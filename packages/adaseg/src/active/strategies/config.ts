// Strategy, unit and budget configs: checked at load (errors name the field) and turned into
// objects. Generic over the strategy registry (registry.ts): nothing here knows a strategy kind.
import { ConfigError, ConfigReader } from '../../util/config-reader.js';
import { checkBudget } from '../budget.js';
import { checkUnitConfig } from '../units.js';
import type { BudgetConfig, Strategy, UnitConfig } from '../types.js';
import { rethrow } from './common.js';
import { STRATEGIES, type StrategyConfig, type StrategyEntry, type StrategyFunctions, type StrategyKind } from './registry.js';

export { UNCERTAINTY_MEASURES } from './common.js';

export const STRATEGY_KINDS: readonly StrategyKind[] = STRATEGIES.map((e) => e.kind);

const FUNCTIONS: StrategyFunctions = {
  parse: (value, path) => parseStrategyConfig(value, path),
  create: (config) => createStrategy(config),
  describe: (config) => describeStrategy(config),
  check: (config, units, where) => checkSelectionSetup(config, units, undefined, where),
};

/** The registry entry of a kind (the entries are typed by their own config; this is the one cast). */
function entryOf(kind: string): StrategyEntry<StrategyConfig> | undefined {
  return (STRATEGIES as readonly StrategyEntry<{ strategy: string }>[]).find((e) => e.kind === kind) as StrategyEntry<StrategyConfig> | undefined;
}

/**
 * Checks a strategy config and fills in its defaults. Accepts the kind alone as a string
 * ('entropy') or an object ({ strategy: 'ripu', variant: 'pixel' }).
 */
export function parseStrategyConfig(value: unknown, path = 'strategy'): StrategyConfig {
  const r = typeof value === 'string' ? ConfigReader.root({ strategy: value }, path) : value instanceof ConfigReader ? value : ConfigReader.root(value, path);
  const entry = entryOf(r.oneOf('strategy', STRATEGY_KINDS))!;
  r.only(['strategy', ...entry.keys]);
  return entry.parse(r, FUNCTIONS);
}

/** The strategy of a (parsed) config. */
export function createStrategy(config: StrategyConfig): Strategy {
  const entry = entryOf(config.strategy);
  if (entry === undefined) throw new ConfigError(`unknown strategy ${JSON.stringify(config.strategy)} (one of ${STRATEGY_KINDS.join(', ')})`);
  return entry.create(config, FUNCTIONS);
}

/** A short label for reports: 'entropy', 'ripu-region (k=1)', 'hybrid-entropy (x5)'... */
export function describeStrategy(config: StrategyConfig): string {
  return entryOf(config.strategy)?.describe?.(config, FUNCTIONS) ?? config.strategy;
}

/** Checks a unit config: { kind: image | region (k) | superpixel (size, compactness, method) | pixel }. */
export function parseUnitConfig(value: unknown, path = 'units'): UnitConfig {
  const r = value instanceof ConfigReader ? value : ConfigReader.root(typeof value === 'string' ? { kind: value } : value, path);
  const kind = r.oneOf('kind', ['image', 'region', 'superpixel', 'pixel'] as const);
  let units: UnitConfig;
  switch (kind) {
    case 'image':
    case 'pixel':
      r.only(['kind']);
      units = { kind };
      break;
    case 'region':
      r.only(['kind', 'k']);
      units = { kind, k: r.integer('k', 1, 0) };
      break;
    case 'superpixel':
      r.only(['kind', 'size', 'compactness', 'method']);
      units = {
        kind,
        size: r.number('size', undefined, { min: 1 }),
        ...(r.has('compactness') ? { compactness: r.positive('compactness') } : {}),
        method: r.oneOf('method', ['slic', 'grid'] as const, 'slic'),
      };
      break;
  }
  rethrow(r, () => checkUnitConfig(units));
  return units;
}

/** Checks a budget config: { kind: images | regions | pixelPercent, total, rounds (5) }. */
export function parseBudgetConfig(value: unknown, path = 'budget'): BudgetConfig {
  const r = value instanceof ConfigReader ? value : ConfigReader.root(value, path);
  r.only(['kind', 'total', 'rounds']);
  const kind = r.oneOf('kind', ['images', 'regions', 'pixelPercent'] as const);
  const rounds = r.integer('rounds', 5, 1);
  if (kind === 'pixelPercent') return { kind, total: r.number('total', undefined, { min: 0, exclusiveMin: true, max: 100 }), rounds };
  return { kind, total: r.integer('total', undefined, 1), rounds };
}

/**
 * Checks that a strategy, its units and a budget fit together (call at config load): budgets
 * against units (budget.ts), then the strategy's own check against the units (e.g. RIPU's
 * variant; pure diversity, whose phase-1 records would not be bounded with pixel units).
 */
export function checkSelectionSetup(strategy: StrategyConfig, units: UnitConfig, budget?: BudgetConfig, where = 'active'): void {
  const fail = (msg: string): never => {
    throw new ConfigError(`${where}: ${msg}`);
  };

  try {
    checkUnitConfig(units);
    if (budget !== undefined) checkBudget(budget, units);
  } catch (e) {
    fail((e as Error).message);
  }
  entryOf(strategy.strategy)?.check?.(strategy, units, fail, where, FUNCTIONS);
}
