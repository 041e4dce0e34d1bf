// The adaptation config (`adaseg adapt --config adapt.yaml`): the training config's sections with
// source and target data, a starting point (`init`: a run directory or checkpoint of the source
// model) and the method, a discriminated union on `adapt.method`. Every field is checked when the
// file is loaded; errors name the field. The shared sections are parsed by train/config.ts itself,
// so their fields, defaults and messages are those of `adaseg train`.
import { isAbsolute, resolve } from 'node:path';
import { type DatasetConfig, parseDatasetConfig } from '../data/config.js';
import { parseTransforms, type Transform } from '../data/transforms.js';
import type { ModelConfig, ResolvedModelConfig } from '../models/config.js';
import { type DataSection, type EvalSection, parseTrainParts, resolveDatasetPaths, type TrainConfig, type TrainSection } from '../train/config.js';
import { ConfigError, type ConfigOverrides, ConfigReader, loadConfigFile } from '../util/config-reader.js';
import type { GanObjective } from '../train/losses.js';
import { ADAPT_METHODS, adaptMethodEntry } from './registry.js';

export type AdaptMethodKind = AdaptMethodConfig['method'];
export { ADAPT_METHODS };

/**
 * Output levels the method works on: 'single' the main output; 'multi' also the model's auxiliary
 * output (DeepLabV2's layer3 head), with its own discriminator and weight; 'auto' multi when the
 * model has an auxiliary output in training, else single (resolved when the model is known).
 */
export type Levels = 'auto' | 'single' | 'multi';

export interface DiscriminatorConfig {
  /** Width of its first layer (64). */
  ndf: number;
  /** Adam learning rate (1e-4), decayed by the poly schedule (power below) over the run. */
  lr: number;
  /** Adam betas ([0.9, 0.99]). */
  betas: [number, number];
  /** Poly decay power of its learning rate (0.9). */
  power: number;
}

export interface MethodCommon {
  levels: Levels;
  /** Weight of the cross-entropy on labelled target batches (active rounds), default 1. */
  labelledTargetWeight: number;
}

export interface AdversarialConfig extends MethodCommon {
  /** AdaptSegNet: D reads softmax maps; ADVENT's AdvEnt: D reads weighted self-information maps. */
  method: 'adaptsegnet' | 'advent-adversarial';
  /** Weight of the adversarial loss on the main output (1e-3). */
  lambdaAdv: number;
  /** Weight on the auxiliary output, multi-level only (2e-4). */
  lambdaAdvAux: number;
  gan: GanObjective;
  discriminator: DiscriminatorConfig;
}

export interface EntropyConfig extends MethodCommon {
  /** ADVENT's MinEnt: entropy minimisation on the target predictions. */
  method: 'advent-entropy';
  /** Weight of the entropy loss on the main output (1e-3). */
  lambdaEnt: number;
  /** On the auxiliary output, multi-level only (2e-4). */
  lambdaEntAux: number;
}

export interface SelfTrainingConfig extends MethodCommon {
  method: 'self-training';
  /** Fraction of each class's predicted target pixels kept as pseudo-labels, (0, 1] (0.5). */
  portion: number;
  /** Cap of the per-class confidence thresholds, (0, 1] (0.9). */
  maxThreshold: number;
  /** Refresh the teacher and thresholds every K iterations; 0 = once, from the starting model (0). */
  regenerateEvery: number;
  /** Weight of the pseudo-label cross-entropy (1); auxiliary outputs add train.auxWeight times theirs. */
  lambdaPseudo: number;
}

export type AdaptMethodConfig = AdversarialConfig | EntropyConfig | SelfTrainingConfig;

export interface AdaptDataSection extends Omit<DataSection, 'train'> {
  /** Labelled source training data. */
  source: DatasetConfig;
  /** Unlabelled target training data (its labels are never read). */
  target: DatasetConfig;
  /** Labelled target data (active rounds): its cross-entropy is added every iteration. */
  labelledTarget?: DatasetConfig;
  /** Augmentation of target batches (default: `transforms`). */
  targetTransforms: Transform[];
}

export interface AdaptConfig {
  name: string;
  /** Run directory: checkpoints (with the discriminators), train.jsonl, metrics.json, config.json. */
  output: string;
  seed: number;
  /** The segmenter; when missing, the model of the `init` run (written here once known). */
  model?: ModelConfig | ResolvedModelConfig;
  /** Start from this run directory (its best checkpoint) or checkpoint, e.g. the source-only run. */
  init?: string;
  /** Initial weights when there is no `init` (as train's `weights`). */
  weights?: string;
  data: AdaptDataSection;
  /** As `adaseg train`'s (optimizer of the segmenter, schedule, iterations, evaluation, checkpoints). */
  train: TrainSection;
  eval: EvalSection;
  adapt: AdaptMethodConfig;
}

const ROOT_KEYS = ['name', 'output', 'seed', 'model', 'init', 'weights', 'data', 'train', 'eval', 'adapt'];
const DATA_KEYS = [
  'source',
  'target',
  'labelledTarget',
  'val',
  'batchSize',
  'workers',
  'transforms',
  'targetTransforms',
  'evalTransforms',
  'normalize',
  'cache',
];

function datasetAt(r: ConfigReader, key: string, baseDir: string): DatasetConfig {
  try {
    return resolveDatasetPaths(parseDatasetConfig(r.raw(key)), baseDir);
  } catch (e) {
    throw new ConfigError(`${r.path}.${key}: ${(e as Error).message}`);
  }
}

/** The target set without its labels (formats that can skip them). */
function unlabelled(d: DatasetConfig): DatasetConfig {
  return d.format === 'synthetic' ? d : { ...d, labels: 'none' };
}

export function parseMethodConfig(r: ConfigReader, options: { labelledTarget?: boolean } = {}): AdaptMethodConfig {
  // An experiment's adapt sections have no labelled target of their own (rounds.labelledTargetWeight
  // weighs the rounds' labels): there the field is refused rather than silently ignored.
  const labelledTarget = options.labelledTarget ?? true;
  if (!labelledTarget && r.has('labelledTargetWeight'))
    r.fail('labelledTargetWeight', 'does not apply here: set rounds.labelledTargetWeight (the weight of the cross-entropy on the labelled target regions)');
  const method = r.oneOf('method', ADAPT_METHODS);
  const common = (): MethodCommon => ({
    levels: r.oneOf('levels', ['auto', 'single', 'multi'] as const, 'auto'),
    labelledTargetWeight: labelledTarget ? r.number('labelledTargetWeight', 1, { min: 0 }) : 1,
  });
  const commonKeys = ['method', 'levels', ...(labelledTarget ? ['labelledTargetWeight'] : [])];
  const entry = adaptMethodEntry(method);
  r.only([...commonKeys, ...entry.keys]);
  return entry.parse(r, common());
}

/** Checks an adaptation config (from YAML, JSON or code) and fills in the defaults. */
export function parseAdaptConfig(value: unknown, baseDir = process.cwd()): AdaptConfig {
  const r = ConfigReader.root(value, 'config');
  r.only(ROOT_KEYS);
  const raw = value as Record<string, unknown>;
  const d = r.object('data');
  d.only(DATA_KEYS);
  if (!d.has('source')) d.fail('source', 'is required: the labelled source training data (a dataset config)');
  if (!d.has('target')) d.fail('target', 'is required: the unlabelled target training data (a dataset config)');
  const source = datasetAt(d, 'source', baseDir);
  const target = unlabelled(datasetAt(d, 'target', baseDir));
  const labelledTarget = d.has('labelledTarget') ? datasetAt(d, 'labelledTarget', baseDir) : undefined;
  const adaptReader = r.object('adapt');
  const adapt = parseMethodConfig(adaptReader);
  const init = r.optionalString('init');

  // The shared sections go through the training config's parsers (source as its training set).
  const base = parseTrainParts(r, baseDir, { trainSet: 'source', dataKeys: DATA_KEYS, defaultName: 'adapt' });
  if (base.train.gradAccumulation !== 1)
    ConfigReader.root(raw.train, 'config.train').fail('gradAccumulation', 'must be 1 for adaptation (each iteration takes one source and one target batch)');
  let targetTransforms = base.data.transforms;
  if (d.has('targetTransforms')) {
    try {
      targetTransforms = parseTransforms(d.raw('targetTransforms'));
    } catch (e) {
      throw new ConfigError(`config.data.targetTransforms: ${(e as Error).message}`);
    }
  }
  const { train: _train, ...dataSection } = base.data;
  return {
    name: base.name,
    output: base.output,
    seed: base.seed,
    ...(raw.model !== undefined || init === undefined ? { model: base.model } : {}),
    ...(init !== undefined ? { init: isAbsolute(init) ? init : resolve(baseDir, init) } : {}),
    ...(base.weights !== undefined ? { weights: base.weights } : {}),
    data: { ...dataSection, source, target, ...(labelledTarget ? { labelledTarget } : {}), targetTransforms },
    train: base.train,
    eval: base.eval,
    adapt,
  };
}

/** Reads a YAML or JSON adaptation config; relative paths in it are relative to the file. */
export function loadAdaptConfig(file: string, overrides?: ConfigOverrides): AdaptConfig {
  return loadConfigFile(file, parseAdaptConfig, overrides);
}

/** The training-config view of an adaptation config (source as `data.train`), for shared helpers. */
export function asTrainConfig(config: AdaptConfig, model: ModelConfig): TrainConfig {
  const { source, target: _t, labelledTarget: _l, targetTransforms: _tt, ...data } = config.data;
  return { name: config.name, output: config.output, seed: config.seed, model, data: { ...data, train: source }, train: config.train, eval: config.eval };
}
