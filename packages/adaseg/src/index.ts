// adaseg: active domain adaptation for semantic segmentation.
// Areas (one folder each, added by later work): data, models, adapt, active, train, annotate, cli.
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
