// The selection strategies: pure scorers (phase 1: per-unit records) with their selection
// (phase 2: units within a budget). createStrategy builds one from its config, through the
// registry of strategy kinds (registry.ts).
export {
  parseStrategyConfig,
  createStrategy,
  describeStrategy,
  parseUnitConfig,
  parseBudgetConfig,
  checkSelectionSetup,
  STRATEGY_KINDS,
  UNCERTAINTY_MEASURES,
} from './config.js';
export { STRATEGIES, type StrategyEntry, type StrategyFunctions } from './registry.js';
export {
  RandomStrategy,
  ClassBalancedStrategy,
  UncertaintyStrategy,
  BaldStrategy,
  type RandomConfig,
  type ClassBalancedConfig,
  type UncertaintyConfig,
  type BaldConfig,
} from './uncertainty.js';
export {
  KMeansStrategy,
  CoresetStrategy,
  BadgeStrategy,
  HybridStrategy,
  type KMeansConfig,
  type CoresetConfig,
  type BadgeConfig,
  type HybridConfig,
} from './diversity.js';
export { MixStrategy, type MixStrategyPart, type MixConfig } from './mix.js';
export { AadaStrategy, RipuStrategy, MadaStrategy, classwiseUnitFeatures, T_EPS, type AadaConfig, type RipuConfig, type MadaConfig } from './domain.js';
export { BatchUnits, entropy, entropyMap, leastConfidenceMap, marginMap, baldMap, uncertaintyMap, recordsFromPixelScores, LOG_EPS } from './common.js';
export {
  selectTopScores,
  selectWith,
  takeInOrder,
  byScore,
  shares,
  unitsFor,
  remaining,
  toRef,
  embeddingMatrix,
  pairwiseSquared,
  kmeans,
  kmeansOrder,
  kmeansppOrder,
  kcenterOrder,
  pickByKMeans,
  recordsInOrder,
  pruneRecords,
  type KMeansResult,
} from './select.js';
