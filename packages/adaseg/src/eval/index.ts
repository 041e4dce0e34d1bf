// Evaluation: confusion-matrix metrics and whole-dataset evaluation.
export * from './metrics.js';
export * from './evaluate.js';
