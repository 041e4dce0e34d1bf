// The active-learning area. This file exports selection (units, budgets, scoring, strategies);
// the label store, annotators, the loop and the report live beside it in their own files.
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
  slic,
  gridSegments,
  superpixels,
  enforceConnectivity,
  rgbToLab,
  poolImageRgb,
  denormalizeRgb,
  checkPoolTransforms,
  unitSums,
  batchUnitCount,
  type ImageSize,
  type Segmentation,
  type SlicOptions,
} from './units.js';
export { poolSize, totalBudget, cumulativeBudget, roundBudget, checkBudget, seededRandom, type PoolSize, type Spent, type RoundBudget } from './budget.js';
export { scorePool, computeSourceAnchors, gradientEmbeddings, DEFAULT_PIXEL_RECORDS, type AnchorOptions } from './scorer.js';
export * from './strategies/index.js';
// The label store, annotators, the experiment config, the active loop and its report.
export * from './store.js';
export * from './annotators.js';
export * from './experiment.js';
export * from './loop.js';
export * from './results.js';
export * from './report.js';
export * from './overlays.js';
export * from './selection-errors.js';
export * from './label-propagation.js';
export * from './masks.js';
