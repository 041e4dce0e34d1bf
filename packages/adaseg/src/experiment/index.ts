// The experiment area: the config of `adaseg run`, the active loop (source training, warm-up, rounds
// of select, annotate, train and evaluate, the baselines) and the annotators.
export * from './config.js';
export * from './loop.js';
export * from './annotators.js';
export * from './label-propagation.js';
