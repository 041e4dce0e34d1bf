// The training config (`adaseg train --config train.yaml`): typed, with every field checked when the
// file is loaded and documented defaults. Dataset and model parts are the data and models areas'
// own unions.
import { isAbsolute, resolve } from 'node:path';
import { type DatasetConfig, parseDatasetConfig } from '../data/config.js';
import { type Normalize, parseNormalize, parseTransforms, type Transform } from '../data/transforms.js';
import { type ModelConfig, resolveModelConfig } from '../models/config.js';
import { ConfigError, type ConfigOverrides, ConfigReader, loadConfigFile } from '../util/config-reader.js';
import { type ClassWeightsConfig, parseClassWeights } from './class-weights.js';

export type OptimizerConfig =
  | { kind: 'sgd'; lr: number; momentum: number; weightDecay: number; nesterov: boolean }
  | { kind: 'adam' | 'adamw'; lr: number; betas: [number, number]; weightDecay: number };

export type ScheduleConfig =
  /** lr = base * (1 - t/T)^power, the segmentation default. */
  { kind: 'poly'; power: number; minLr: number } | { kind: 'step'; stepSize: number; gamma: number } | { kind: 'cosine'; minLr: number } | { kind: 'constant' };

export interface NamedDataset {
  name: string;
  dataset: DatasetConfig;
}

export interface DataSection {
  train: DatasetConfig;
  /** Evaluated every `train.evalEvery` iterations and at the end; the first one picks the best checkpoint. */
  val: NamedDataset[];
  batchSize: number;
  workers: number;
  transforms: Transform[];
  /** Transforms for evaluation (default none: full images). */
  evalTransforms: Transform[];
  normalize: Normalize;
  cache: boolean;
}

export type { ClassWeightsConfig };

function classWeightsAt(t: ConfigReader): { classWeights?: ClassWeightsConfig } {
  let weights: ClassWeightsConfig;
  try {
    weights = parseClassWeights(t.raw('classWeights'));
  } catch (e) {
    return t.fail('classWeights', (e as Error).message);
  }
  return weights === 'none' ? {} : { classWeights: weights };
}

export interface TrainSection {
  iterations: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  warmupIterations: number;
  /** LR multiplier of decoder/heads relative to the backbone (10 is usual for pretrained ResNets). */
  headLrMultiplier: number;
  /** 'none', 'all' or 'backbone': BatchNorm layers use running stats and are not trained. */
  freezeBatchNorm: 'none' | 'all' | 'backbone';
  gradAccumulation: number;
  /** Weight of auxiliary-head losses (FCN/DeepLab aux, DeepLabV2 layer3 output). */
  auxWeight: number;
  /**
   * Per-class weights of the labelled cross-entropy: 'medianFrequency' (from the training labels)
   * or one per class; absent means a plain mean (left out so that runs made before the option
   * keep their config fingerprint and resume).
   */
  classWeights?: ClassWeightsConfig;
  evalEvery: number;
  checkpointEvery: number;
  keepLast: number;
  logEvery: number;
  /**
   * A NaN or infinite loss: 'error' (absent, the default) stops the run naming the iteration and
   * the loss term, before the optimiser step, so no checkpoint holds what it did; 'skip' drops that
   * iteration's update and counts it in train.jsonl.
   */
  nanPolicy?: 'error' | 'skip';
}

export interface EvalSection {
  /** Average predictions with the horizontally flipped image. */
  flip: boolean;
  batchSize: number;
}

export interface TrainConfig {
  name: string;
  /** Run directory: checkpoints, train.jsonl, metrics.json. */
  output: string;
  seed: number;
  model: ModelConfig;
  /** Initial weights (safetensors, PyTorch names), e.g. converted ImageNet weights. */
  weights?: string;
  data: DataSection;
  train: TrainSection;
  eval: EvalSection;
}

const DEFAULT_TRANSFORMS: Transform[] = [{ kind: 'hflip' }];

function parseOptimizer(r: ConfigReader): OptimizerConfig {
  const kind = r.oneOf('kind', ['sgd', 'adam', 'adamw'] as const);
  if (kind === 'sgd') {
    r.only(['kind', 'lr', 'momentum', 'weightDecay', 'nesterov']);
    return {
      kind,
      lr: r.positive('lr', 0.01),
      momentum: r.number('momentum', 0.9, { min: 0, max: 1 }),
      weightDecay: r.number('weightDecay', 5e-4, { min: 0 }),
      nesterov: r.boolean('nesterov', false),
    };
  }
  r.only(['kind', 'lr', 'betas', 'weightDecay']);
  const betas = (r.raw('betas') ?? [0.9, 0.999]) as unknown;
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === 'number' && b >= 0 && b < 1))
    r.fail('betas', `must be two numbers in [0, 1), got ${JSON.stringify(betas)}`);
  return { kind, lr: r.positive('lr', 1e-4), betas: betas as [number, number], weightDecay: r.number('weightDecay', kind === 'adamw' ? 1e-2 : 0, { min: 0 }) };
}

function parseSchedule(r: ConfigReader | undefined): ScheduleConfig {
  if (r === undefined) return { kind: 'poly', power: 0.9, minLr: 0 };
  const kind = r.oneOf('kind', ['poly', 'step', 'cosine', 'constant'] as const);
  switch (kind) {
    case 'poly':
      r.only(['kind', 'power', 'minLr']);
      return { kind, power: r.positive('power', 0.9), minLr: r.number('minLr', 0, { min: 0 }) };
    case 'step':
      r.only(['kind', 'stepSize', 'gamma']);
      return { kind, stepSize: r.integer('stepSize', undefined, 1), gamma: r.positive('gamma', 0.1) };
    case 'cosine':
      r.only(['kind', 'minLr']);
      return { kind, minLr: r.number('minLr', 0, { min: 0 }) };
    case 'constant':
      r.only(['kind']);
      return { kind };
  }
}

function datasetAt(r: ConfigReader, key: string, baseDir: string): DatasetConfig {
  const raw = r.raw(key);
  try {
    return resolveDatasetPaths(parseDatasetConfig(raw), baseDir);
  } catch (e) {
    throw new ConfigError(`${r.path}.${key}: ${(e as Error).message}`);
  }
}

/** Relative dataset roots are relative to the config file's folder. */
export function resolveDatasetPaths(d: DatasetConfig, baseDir: string): DatasetConfig {
  if ('root' in d && !isAbsolute(d.root)) return { ...d, root: resolve(baseDir, d.root) };
  return d;
}

const DATA_KEYS = ['train', 'val', 'batchSize', 'workers', 'transforms', 'evalTransforms', 'normalize', 'cache'];

/** Checks a config object (from YAML, JSON or code) and fills in the defaults. */
export function parseTrainConfig(value: unknown, baseDir = process.cwd()): TrainConfig {
  const r = ConfigReader.root(value, 'config');
  r.only(['name', 'output', 'seed', 'model', 'weights', 'data', 'train', 'eval']);
  return parseTrainParts(r, baseDir);
}

export interface TrainPartsOptions {
  /** The key of the training set in `data` ('train'; adaptation: 'source'). */
  trainSet?: string;
  /** The keys `data` may hold (the training config's). */
  dataKeys?: string[];
  /** The name when the config gives none ('train'). */
  defaultName?: string;
}

/**
 * The training config held by `r` (a config's root, its keys checked by the caller): model, data,
 * train and eval sections, name, output, seed and weights. The adaptation config holds one too,
 * with its training set under another key.
 */
export function parseTrainParts(r: ConfigReader, baseDir: string, options: TrainPartsOptions = {}): TrainConfig {
  const defaultName = options.defaultName ?? 'train';
  let model: ModelConfig;
  try {
    model = resolveModelConfig(r.raw('model') ?? { kind: 'unet' }) as ModelConfig;
  } catch (e) {
    throw new ConfigError(`${r.path}.model: ${(e as Error).message}`);
  }
  const d = r.object('data');
  d.only(options.dataKeys ?? DATA_KEYS);
  const data = parseDataSection(d, baseDir, options.trainSet);
  const train = parseTrainSection(r.object('train', true) ?? ConfigReader.root({}, `${r.path}.train`));
  const evalSection = parseEvalSection(r.object('eval', true) ?? ConfigReader.root({}, `${r.path}.eval`));
  const output = r.string('output', `runs/${r.has('name') ? r.string('name') : defaultName}`);
  return {
    name: r.string('name', defaultName),
    output: isAbsolute(output) ? output : resolve(baseDir, output),
    seed: r.integer('seed', 0, 0),
    model,
    ...(r.has('weights') ? { weights: resolve(baseDir, r.string('weights')) } : {}),
    data,
    train,
    eval: evalSection,
  };
}

/** The data section (`d`, its keys checked by the caller), the training set under `trainSet`. */
export function parseDataSection(d: ConfigReader, baseDir: string, trainSet = 'train'): DataSection {
  const val: NamedDataset[] = [];
  if (d.has('val')) {
    d.array('val').forEach((entry, i) => {
      const e = ConfigReader.root(entry, `${d.path}.val[${i}]`);
      e.only(['name', 'dataset']);
      val.push({ name: e.string('name'), dataset: datasetAt(e, 'dataset', baseDir) });
    });
  }
  const wrap = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new ConfigError(`${d.path}.${what}: ${(e as Error).message}`);
    }
  };
  return {
    train: datasetAt(d, trainSet, baseDir),
    val,
    batchSize: d.integer('batchSize', 8, 1),
    workers: d.integer('workers', 2, 0),
    transforms: d.has('transforms') ? wrap('transforms', () => parseTransforms(d.raw('transforms'))) : DEFAULT_TRANSFORMS,
    evalTransforms: d.has('evalTransforms') ? wrap('evalTransforms', () => parseTransforms(d.raw('evalTransforms'))) : [],
    normalize: d.has('normalize') ? wrap('normalize', () => parseNormalize(d.raw('normalize'))) : parseNormalize('imagenet'),
    cache: d.boolean('cache', true),
  };
}

/** A train section (iterations, optimizer, schedule...) read by `t`, its errors named by t's path. */
export function parseTrainSection(t: ConfigReader): TrainSection {
  t.only([
    'iterations',
    'optimizer',
    'schedule',
    'warmupIterations',
    'headLrMultiplier',
    'freezeBatchNorm',
    'gradAccumulation',
    'auxWeight',
    'classWeights',
    'evalEvery',
    'checkpointEvery',
    'keepLast',
    'logEvery',
    'nanPolicy',
  ]);
  const iterations = t.integer('iterations', 1000, 1);
  const nanPolicy = t.oneOf('nanPolicy', ['error', 'skip'] as const, 'error');
  const train: TrainSection = {
    iterations,
    optimizer: parseOptimizer(t.object('optimizer', true) ?? ConfigReader.root({ kind: 'sgd' }, `${t.path}.optimizer`)),
    schedule: parseSchedule(t.object('schedule', true)),
    warmupIterations: t.integer('warmupIterations', 0, 0),
    headLrMultiplier: t.positive('headLrMultiplier', 1),
    freezeBatchNorm: t.oneOf('freezeBatchNorm', ['none', 'all', 'backbone'] as const, 'none'),
    gradAccumulation: t.integer('gradAccumulation', 1, 1),
    auxWeight: t.number('auxWeight', 0.4, { min: 0 }),
    ...classWeightsAt(t),
    evalEvery: t.integer('evalEvery', Math.max(1, Math.floor(iterations / 4)), 1),
    checkpointEvery: t.integer('checkpointEvery', Math.max(1, Math.floor(iterations / 4)), 1),
    keepLast: t.integer('keepLast', 2, 1),
    logEvery: t.integer('logEvery', 10, 1),
    // Left out at its default, so that runs made before the option keep their config fingerprint.
    ...(nanPolicy === 'error' ? {} : { nanPolicy }),
  };
  if (train.warmupIterations >= iterations) t.fail('warmupIterations', `must be smaller than iterations (${iterations})`);
  return train;
}

/** An eval section (flip, batchSize) read by `e`. */
export function parseEvalSection(e: ConfigReader): EvalSection {
  e.only(['flip', 'batchSize']);
  return { flip: e.boolean('flip', false), batchSize: e.integer('batchSize', 4, 1) };
}

/** Reads a YAML or JSON config file; relative paths in it are relative to the file. */
export function loadTrainConfig(file: string, overrides?: ConfigOverrides): TrainConfig {
  return loadConfigFile(file, parseTrainConfig, overrides);
}
