// Strategy, unit and budget configs: checked at load (errors name the field) and turned into
// objects. createStrategy is the only place that switches on the strategy's kind.
import { ConfigError, ConfigReader } from '../../util/config-reader.js';
import { checkBudget } from '../budget.js';
import { checkUnitConfig } from '../units.js';
import type { BudgetConfig, MixPart, Strategy, StrategyConfig, StrategyKind, UncertaintyMeasure, UnitConfig } from '../types.js';
import { AadaStrategy, MadaStrategy, RipuStrategy } from './domain.js';
import { BadgeStrategy, CoresetStrategy, HybridStrategy, KMeansStrategy } from './diversity.js';
import { MixStrategy } from './mix.js';
import { BaldStrategy, ClassBalancedStrategy, RandomStrategy, UncertaintyStrategy } from './uncertainty.js';

export const STRATEGY_KINDS: readonly StrategyKind[] = ['random', 'classBalanced', 'leastConfidence', 'margin', 'entropy', 'bald', 'kmeans', 'coreset', 'badge', 'hybrid', 'aada', 'ripu', 'mada', 'mix'];
export const UNCERTAINTY_MEASURES: readonly UncertaintyMeasure[] = ['leastConfidence', 'margin', 'entropy'];

/**
 * Checks a strategy config and fills in its defaults. Accepts the kind alone as a string
 * ('entropy') or an object ({ strategy: 'ripu', variant: 'pixel' }).
 */
export function parseStrategyConfig(value: unknown, path = 'strategy'): StrategyConfig {
  const r = typeof value === 'string' ? ConfigReader.root({ strategy: value }, path) : value instanceof ConfigReader ? value : ConfigReader.root(value, path);
  const strategy = r.oneOf('strategy', STRATEGY_KINDS);
  switch (strategy) {
    case 'random':
    case 'leastConfidence':
    case 'margin':
    case 'entropy':
    case 'coreset':
    case 'badge':
    case 'aada':
      r.only(['strategy']);
      return { strategy };
    case 'classBalanced':
      r.only(['strategy', 'power']);
      return { strategy, power: r.number('power', 1, { min: 0 }) };
    case 'bald':
      r.only(['strategy', 'passes']);
      return { strategy, passes: r.integer('passes', 10, 2) };
    case 'kmeans':
      r.only(['strategy', 'iterations']);
      return { strategy, iterations: r.integer('iterations', 50, 1) };
    case 'hybrid':
      r.only(['strategy', 'uncertainty', 'candidates', 'iterations']);
      return {
        strategy,
        uncertainty: r.oneOf('uncertainty', UNCERTAINTY_MEASURES, 'entropy'),
        candidates: r.number('candidates', 5, { min: 1 }),
        iterations: r.integer('iterations', 50, 1),
      };
    case 'ripu':
      r.only(['strategy', 'variant', 'k']);
      return { strategy, variant: r.oneOf('variant', ['region', 'pixel'] as const, 'region'), k: r.integer('k', 1, 0) };
    case 'mada':
      r.only(['strategy', 'anchors']);
      return { strategy, anchors: r.integer('anchors', 10, 1) };
    case 'mix':
      r.only(['strategy', 'parts']);
      return { strategy, parts: parseMixParts(r) };
  }
}

/** A mix's parts: at least two { share, strategy } (no mix inside a mix), shares summing to 1. */
function parseMixParts(r: ConfigReader): MixPart[] {
  const example = 'e.g. [{ share: 0.5, strategy: random }, { share: 0.5, strategy: ripu }]';
  if (!r.has('parts')) r.fail('parts', `is required: a list of { share, strategy }, ${example}`);
  const list = r.array('parts');
  if (list.length < 2) r.fail('parts', `must list at least two parts, ${example}`);
  const parts = list.map((value, i) => {
    const p = ConfigReader.root(value, `${r.path}.parts[${i}]`);
    p.only(['share', 'strategy']);
    const share = p.number('share', undefined, { min: 0, exclusiveMin: true, max: 1 });
    if (!p.has('strategy')) p.fail('strategy', 'is required (a strategy kind or config, not a mix)');
    const strategy = parseStrategyConfig(p.raw('strategy'), `${p.path}.strategy`);
    if (strategy.strategy === 'mix') p.fail('strategy', 'cannot be a mix itself: list its parts in this mix');
    return { share, strategy };
  });
  const sum = parts.reduce((s, p) => s + p.share, 0);
  if (Math.abs(sum - 1) > 1e-6) r.fail('parts', `shares must sum to 1, got ${+sum.toFixed(6)}`);
  const labels = parts.map((p) => describeStrategy(p.strategy));
  labels.forEach((l, i) => {
    if (labels.indexOf(l) !== i) r.fail(`parts[${i}]`, `repeats '${l}': give it one part with the summed share`);
  });
  // The parts must also agree on what they ask the scorer for (e.g. BALD's passes).
  rethrow(r, () => createStrategy({ strategy: 'mix', parts }));
  return parts;
}

/** The strategy of a (parsed) config. */
export function createStrategy(config: StrategyConfig): Strategy {
  switch (config.strategy) {
    case 'random':
      return new RandomStrategy();
    case 'classBalanced':
      return new ClassBalancedStrategy(config.power);
    case 'leastConfidence':
    case 'margin':
    case 'entropy':
      return new UncertaintyStrategy(config.strategy);
    case 'bald':
      return new BaldStrategy(config.passes);
    case 'kmeans':
      return new KMeansStrategy(config.iterations);
    case 'coreset':
      return new CoresetStrategy();
    case 'badge':
      return new BadgeStrategy();
    case 'hybrid':
      return new HybridStrategy(config.uncertainty, config.candidates, config.iterations);
    case 'aada':
      return new AadaStrategy();
    case 'ripu':
      return new RipuStrategy(config.variant, config.k);
    case 'mada':
      return new MadaStrategy(config.anchors);
    case 'mix':
      return new MixStrategy(config.parts.map((p) => ({ share: p.share, strategy: createStrategy(p.strategy) })));
    default: {
      const never: never = config;
      throw new ConfigError(`unknown strategy ${JSON.stringify((never as { strategy: unknown }).strategy)} (one of ${STRATEGY_KINDS.join(', ')})`);
    }
  }
}

/** A short label for reports: 'entropy', 'ripu-region (k=1)', 'hybrid-entropy (x5)'... */
export function describeStrategy(config: StrategyConfig): string {
  switch (config.strategy) {
    case 'ripu':
      return `ripu-${config.variant} (k=${config.k})`;
    case 'hybrid':
      return `hybrid-${config.uncertainty} (x${config.candidates})`;
    case 'bald':
      return `bald (T=${config.passes})`;
    case 'classBalanced':
      return `class-balanced (power=${config.power})`;
    case 'mada':
      return `mada (${config.anchors} anchors)`;
    case 'mix':
      return `mix: ${config.parts.map((p) => `${describeStrategy(p.strategy)} ${+(p.share * 100).toFixed(2)}%`).join(' + ')}`;
    default:
      return config.strategy;
  }
}

function rethrow(r: ConfigReader, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${r.path}: ${(e as Error).message}`);
  }
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
 * against units (budget.ts), RIPU's variant against the units, and the strategies whose phase-1
 * records would not be bounded with pixel units (pure diversity: one embedding per pixel).
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
  if (strategy.strategy === 'mix') {
    strategy.parts.forEach((p, i) => checkSelectionSetup(p.strategy, units, undefined, `${where}.parts[${i}]`));
    return;
  }
  if (strategy.strategy === 'ripu') {
    if (strategy.variant === 'pixel' && units.kind !== 'pixel') fail(`ripu's 'pixel' variant selects single pixels: use units { kind: pixel } (got ${units.kind})`);
    if (strategy.variant === 'region' && units.kind === 'pixel') fail("ripu's 'region' variant needs region (or superpixel, image) units; with pixel units use variant 'pixel'");
    if (strategy.variant === 'region' && units.kind === 'region' && strategy.k !== units.k) fail(`ripu region: the region is the unit, so ripu's k (${strategy.k}) must equal the units' k (${units.k})`);
  }
  if (units.kind === 'pixel' && (strategy.strategy === 'kmeans' || strategy.strategy === 'coreset')) {
    fail(`${strategy.strategy} keeps one feature vector per unit and never drops any: with pixel units that is one per pool pixel; use region, superpixel or image units`);
  }
}
