// adaseg: active domain adaptation for semantic segmentation.
// The tensor engine is its own package, @adaseg/torch, and knows nothing of segmentation.
import * as torch from '@adaseg/torch';

export { torch };
export { VERSION } from './version.js';
export * as data from './data/index.js';
