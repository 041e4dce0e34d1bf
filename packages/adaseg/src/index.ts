// adaseg: active domain adaptation for semantic segmentation.
// Areas (one folder each): data, models, train, eval, adapt, active (selection), labels, report,
// experiment, annotate, cli.
// The tensor engine is its own package, @adaseg/torch, and knows nothing of segmentation.
import * as torch from '@adaseg/torch';

export { torch };
export { VERSION } from './version.js';
export * as data from './data/index.js';
export * as models from './models/index.js';
export * as train from './train/index.js';
export * as evaluation from './eval/index.js';
export * as adapt from './adapt/index.js';
export * as active from './active/index.js';
export * as labels from './labels/index.js';
export * as report from './report/index.js';
export * as experiment from './experiment/index.js';
