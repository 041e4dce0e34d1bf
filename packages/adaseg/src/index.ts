// adaseg: active domain adaptation for semantic segmentation.
// Areas (one folder each, added by later work): data, models, adapt, active, train, annotate, cli.
// The tensor engine is its own package, @adaseg/torch, and knows nothing of segmentation.
import * as torch from '@adaseg/torch';

export { torch };
export const VERSION = '0.1.0';
