// Dataset configs: a discriminated union on `format`, checked when loaded (configs come from JSON,
// CLI flags and code alike). The union and its parser are derived from the format registry
// (formats/index.ts: one entry per format, each reading its real on-disk layout).
export { DATASET_FORMATS, parseDatasetConfig, type DatasetConfig, type DatasetConfigFormat } from './formats/index.js';
export type { CityscapesClasses, CommonOptions, LabelPolicy } from './formats/options.js';
