// The active-learning area: selection (units, budgets, scoring, strategies, what a model predicts
// over the pool and how many of a round's labels corrected it). The label store is src/labels/,
// the loop src/experiment/, the report src/report/.
export * from './types.js';
export {
  UnitLayout,
  unitLayout,
  unitMask,
  unitPixels,
  regionGrid,
  regionSide,
  checkUnitConfig,
  needsImage,
  superpixels,
  poolImageRgb,
  denormalizeRgb,
  checkPoolTransforms,
  unitSums,
  batchUnitCount,
  type ImageSize,
} from './units.js';
export { poolSize, totalBudget, cumulativeBudget, roundBudget, checkBudget, seededRandom, type PoolSize, type Spent, type RoundBudget } from './budget.js';
export { scorePool, computeSourceAnchors, gradientEmbeddings, DEFAULT_PIXEL_RECORDS, type AnchorOptions } from './scorer.js';
export * from './strategies/index.js';
export { overlayMaps, predictPoolImages, type OverlayMaps, type PoolPredictionOptions } from './predictions.js';
export * from './selection-errors.js';
