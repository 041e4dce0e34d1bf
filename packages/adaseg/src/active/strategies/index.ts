// The selection strategies: pure scorers (phase 1: per-unit records) with their selection
// (phase 2: units within a budget). createStrategy builds one from its config.
export { parseStrategyConfig, createStrategy, describeStrategy, parseUnitConfig, parseBudgetConfig, checkSelectionSetup, STRATEGY_KINDS, UNCERTAINTY_MEASURES } from './config.js';
export { RandomStrategy, ClassBalancedStrategy, UncertaintyStrategy, BaldStrategy } from './uncertainty.js';
export { KMeansStrategy, CoresetStrategy, BadgeStrategy, HybridStrategy } from './diversity.js';
export { MixStrategy, type MixStrategyPart } from './mix.js';
export { AadaStrategy, RipuStrategy, MadaStrategy, classwiseUnitFeatures, T_EPS } from './domain.js';
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
