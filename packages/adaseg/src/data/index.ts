// The data area: dataset descriptions and formats, decoding, augmentation, the synthetic domain
// pair, the batch loader and dataset inspection.
export * from './classes.js';
export * from './config.js';
export * from './dataset.js';
export { DataError, type DataErrorCode, type DataErrorInfo } from './errors.js';
export {
  loadDataset,
  detectFormat,
  detectDatasetFormat,
  detectableLayouts,
  FORMATS,
  type DatasetFormatEntry,
  type LoadOptions,
  type DetectedFormat,
  readFolderMeta,
  type FolderMeta,
  cityscapesMapping,
  synthiaMapping,
  type FolderConfig,
  type CamvidConfig,
  type CityscapesConfig,
  type Gta5Config,
  type SynthiaConfig,
  type SyntheticConfig,
} from './formats/index.js';
export { decodeImage, readRawLabel, mapRawLabel, type RgbImage, type LabelImage, type RawLabel } from './decode.js';
export { slic, gridSegments, enforceConnectivity, rgbToLab, type Segmentation, type SlicOptions } from './slic.js';
export { decodePng, encodeIndexedPng, readPngHeader, type PngSamples } from './png.js';
export * from './transforms.js';
export { Rng, hashSeed, hashString } from './rng.js';
export { SYNTHETIC_CLASSES, renderScene, syntheticDataset, syntheticPair, sceneSeed, type RenderedScene, type SyntheticOptions } from './synthetic.js';
export { Pipeline, type PipelineSpec, type Decoded, type SampleResult } from './pipeline.js';
export { DataLoader, type LoaderOptions, type Batch } from './loader.js';
export { inspectDataset, formatReport, type InspectOptions, type InspectReport } from './inspect.js';
