// The experiment config of `adaseg run --config experiment.yaml`: source training (or a checkpoint),
// an optional UDA warm-up, the active rounds (units, budget, strategies, annotator, round training)
// and the baselines, for several seeds. Typed (discriminated unions where a choice changes the
// fields) and checked when loaded: errors name the field (`config.rounds.train.iterations must be
// an integer >= 1, got 0`). The shared sections go through the training and adaptation configs'
// own parsers, so their fields, defaults and messages are those of `adaseg train` / `adaseg adapt`.
import { isAbsolute, resolve } from 'node:path';
import { type AdaptMethodConfig, parseMethodConfig } from '../adapt/config.js';
import { providedDiscriminator } from '../adapt/registry.js';
import type { DatasetConfig } from '../data/config.js';
import { parseDatasetConfig } from '../data/config.js';
import { type Normalize, parseNormalize, parseTransforms, type Transform } from '../data/transforms.js';
import { type ModelConfig, resolveModelConfig } from '../models/config.js';
import { type EvalSection, parseTrainSection, resolveDatasetPaths, type TrainSection } from '../train/config.js';
import { ConfigError, type ConfigOverrides, ConfigReader, loadConfigFile } from '../util/config-reader.js';
import { checkSelectionSetup, createStrategy, describeStrategy, parseBudgetConfig, parseStrategyConfig, parseUnitConfig } from '../active/strategies/index.js';
import type { LabelPropagationConfig } from './label-propagation.js';
import type { BudgetConfig, StrategyConfig, UnitConfig } from '../active/types.js';

export type QueryKindChoice = 'auto' | 'region-class' | 'pixel-paint';

export type AnnotatorConfig =
  /** Reveals the pool's ground truth for exactly the selected units (the pool needs labels). */
  | { kind: 'simulated' }
  /**
   * Writes the round's queries to the label store and waits for people to answer them (the
   * annotation studio), polling every `pollSeconds`, until `minFraction` of them are answered.
   */
  | { kind: 'human'; minFraction: number; pollSeconds: number; queryKind: QueryKindChoice; unitsPerQuery: number };

export type SourceConfig =
  /** Train the source model with `adaseg train`'s recipe (per seed). */
  | { kind: 'train'; train: TrainSection }
  /** Start from a trained run directory (its latest checkpoint) or a checkpoint file. */
  | { kind: 'init'; path: string };

export interface WarmupConfig {
  train: TrainSection;
  adapt: AdaptMethodConfig;
}

export interface NegativeLearningConfig {
  /** Weight of RIPU's negative-learning loss on the unlabelled target (1). */
  weight: number;
  /** Classes with predicted probability below this are complementary labels (0.05). */
  threshold: number;
}

export interface RoundsConfig {
  /** Each round's training, with its own schedule (poly decay within the round by default). */
  train: TrainSection;
  /** Each round starts from the previous round's model ('previous') or from the start model ('start'). */
  init: 'previous' | 'start';
  /** Weight of the cross-entropy on the labelled target regions (1). */
  labelledTargetWeight: number;
  /**
   * The target batches: 'pool' (every pool image with its partial mask; as RIPU, the UDA and
   * negative-learning losses see the whole pool) or 'labelled' (only images with labels).
   */
  targetData: 'pool' | 'labelled';
  /** UDA loss on the unlabelled target during rounds (none by default). */
  adapt?: AdaptMethodConfig;
  /** RIPU's negative learning on the unlabelled target (off by default). */
  negativeLearning?: NegativeLearningConfig;
  /**
   * Spread each bought region's class over the SLIC superpixels it touches, for training only
   * (label-propagation.ts; off by default). The budget and the label store are unchanged.
   */
  labelPropagation?: LabelPropagationConfig;
}

export type BaselineKind = 'source-only' | 'uda-only' | 'full' | 'random';
export const BASELINES: readonly BaselineKind[] = ['source-only', 'uda-only', 'full', 'random'];

export interface NamedStrategy {
  /** Unique label (describeStrategy's, e.g. 'entropy', 'ripu-region (k=1)'): the run name's first part. */
  label: string;
  config: StrategyConfig;
}

export interface ExperimentData {
  source: DatasetConfig;
  /** The target pool: scored and labelled; its labels are read only by the simulated annotator and the full baseline. */
  pool: DatasetConfig;
  /** The target validation set every model is evaluated on. */
  val: DatasetConfig;
  /** Working resolution: a resize prepended to every transform (pool, training, evaluation). */
  resolution?: { width: number; height: number };
  batchSize: number;
  workers: number;
  /** Augmentation of source and labelled target batches (after the resize). */
  transforms: Transform[];
  /** Augmentation of unlabelled target batches (default: transforms). */
  targetTransforms: Transform[];
  normalize: Normalize;
  cache: boolean;
}

export interface ActiveSection {
  units: UnitConfig;
  budget: BudgetConfig;
  ranking: 'global' | 'perImage';
  strategies: NamedStrategy[];
  /** Pool images per scoring batch (4). */
  scoringBatchSize: number;
  /** Records kept per image while scoring (default: all; pixel units 4096). */
  keepPerImage?: number;
}

export interface ReportSection {
  /** Example pool images with their selected regions, per strategy (3). */
  examples: number;
}

export interface ExperimentConfig {
  name: string;
  /** Output folder: config.json, labels.sqlite, seed-N/ (runs), results.json, report.html. */
  output: string;
  seeds: number[];
  model: ModelConfig;
  data: ExperimentData;
  source: SourceConfig;
  warmup?: WarmupConfig;
  active: ActiveSection;
  annotator: AnnotatorConfig;
  rounds: RoundsConfig;
  baselines: BaselineKind[];
  eval: EvalSection;
  report: ReportSection;
}

const ROOT_KEYS = ['name', 'output', 'seeds', 'model', 'data', 'source', 'warmup', 'active', 'annotator', 'rounds', 'baselines', 'eval', 'report'];

/** A train section (iterations, optimizer, schedule...) at `path`, read by the training config's section parser. */
function trainSectionAt(raw: unknown, path: string): TrainSection {
  if (raw === undefined || raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(`${path} must be an object (iterations, optimizer, schedule...), got ${JSON.stringify(raw)}`);
  // Accepted by `adaseg train`, but an experiment evaluates on data.val after each stage and round.
  if ('evalEvery' in raw)
    throw new ConfigError(
      `${path}.evalEvery does not apply to an experiment: it evaluates on data.val after source training, the warm-up and every round (remove it)`,
    );
  return parseTrainSection(ConfigReader.root(raw, path));
}

function datasetAt(r: ConfigReader, key: string, baseDir: string): DatasetConfig {
  if (!r.has(key)) r.fail(key, 'is required (a dataset config)');
  try {
    return resolveDatasetPaths(parseDatasetConfig(r.raw(key)), baseDir);
  } catch (e) {
    throw new ConfigError(`${r.path}.${key}: ${(e as Error).message}`);
  }
}

function transformsAt(r: ConfigReader, key: string, fallback: Transform[]): Transform[] {
  if (!r.has(key)) return fallback;
  try {
    return parseTransforms(r.raw(key));
  } catch (e) {
    throw new ConfigError(`${r.path}.${key}: ${(e as Error).message}`);
  }
}

function methodAt(r: ConfigReader, key: string): AdaptMethodConfig | undefined {
  const m = r.object(key, true);
  return m === undefined ? undefined : parseMethodConfig(m, { labelledTarget: false });
}

function parseData(d: ConfigReader, baseDir: string): ExperimentData {
  d.only(['source', 'pool', 'val', 'resolution', 'batchSize', 'workers', 'transforms', 'targetTransforms', 'normalize', 'cache']);
  let resolution: ExperimentData['resolution'];
  const res = d.object('resolution', true);
  if (res !== undefined) {
    res.only(['width', 'height']);
    resolution = { width: res.integer('width', undefined, 1), height: res.integer('height', undefined, 1) };
  }
  const transforms = transformsAt(d, 'transforms', [{ kind: 'hflip', p: 0.5 }]);
  let normalize: Normalize;
  try {
    normalize = parseNormalize(d.raw('normalize') ?? 'imagenet');
  } catch (e) {
    throw new ConfigError(`${d.path}.normalize: ${(e as Error).message}`);
  }
  const pool = datasetAt(d, 'pool', baseDir);
  return {
    source: datasetAt(d, 'source', baseDir),
    pool,
    val: datasetAt(d, 'val', baseDir),
    ...(resolution ? { resolution } : {}),
    batchSize: d.integer('batchSize', 4, 1),
    workers: d.integer('workers', 0, 0),
    transforms,
    targetTransforms: transformsAt(d, 'targetTransforms', transforms),
    normalize,
    cache: d.boolean('cache', true),
  };
}

function parseAnnotator(r: ConfigReader | undefined): AnnotatorConfig {
  if (r === undefined) return { kind: 'simulated' };
  const kind = r.oneOf('kind', ['simulated', 'human'] as const);
  if (kind === 'simulated') {
    r.only(['kind']);
    return { kind };
  }
  r.only(['kind', 'minFraction', 'pollSeconds', 'queryKind', 'unitsPerQuery']);
  return {
    kind,
    minFraction: r.number('minFraction', 1, { min: 0, exclusiveMin: true, max: 1 }),
    pollSeconds: r.positive('pollSeconds', 5),
    queryKind: r.oneOf('queryKind', ['auto', 'region-class', 'pixel-paint'] as const, 'auto'),
    unitsPerQuery: r.integer('unitsPerQuery', 20, 1),
  };
}

function parseRounds(r: ConfigReader): RoundsConfig {
  r.only(['train', 'init', 'labelledTargetWeight', 'targetData', 'adapt', 'negativeLearning', 'labelPropagation']);
  let labelPropagation: LabelPropagationConfig | undefined;
  const lp = r.object('labelPropagation', true);
  if (lp !== undefined) {
    lp.only(['superpixelSize', 'compactness']);
    labelPropagation = { superpixelSize: lp.integer('superpixelSize', 30, 4), compactness: lp.number('compactness', 10, { min: 0, exclusiveMin: true }) };
  }
  const adapt = methodAt(r, 'adapt');
  let negativeLearning: NegativeLearningConfig | undefined;
  const nl = r.object('negativeLearning', true);
  if (nl !== undefined) {
    nl.only(['weight', 'threshold']);
    negativeLearning = { weight: nl.number('weight', 1, { min: 0 }), threshold: nl.number('threshold', 0.05, { min: 0, exclusiveMin: true, max: 1 }) };
  }
  const train = trainSectionAt(r.raw('train'), `${r.path}.train`);
  if (train.gradAccumulation !== 1) r.object('train').fail('gradAccumulation', 'must be 1 for round training');
  return {
    train,
    init: r.oneOf('init', ['previous', 'start'] as const, 'previous'),
    labelledTargetWeight: r.number('labelledTargetWeight', 1, { min: 0 }),
    targetData: r.oneOf('targetData', ['pool', 'labelled'] as const, 'pool'),
    ...(adapt ? { adapt } : {}),
    ...(negativeLearning ? { negativeLearning } : {}),
    ...(labelPropagation ? { labelPropagation } : {}),
  };
}

function parseActive(r: ConfigReader): ActiveSection {
  r.only(['units', 'budget', 'ranking', 'strategies', 'scoringBatchSize', 'keepPerImage']);
  if (!r.has('units')) r.fail('units', 'is required, e.g. { kind: region, k: 1 } (kinds: image, region, superpixel, pixel)');
  if (!r.has('budget')) r.fail('budget', 'is required, e.g. { kind: pixelPercent, total: 5, rounds: 5 }');
  const units = parseUnitConfig(r.raw('units'), `${r.path}.units`);
  const budget = parseBudgetConfig(r.raw('budget'), `${r.path}.budget`);
  const list = r.array('strategies');
  if (list.length === 0) r.fail('strategies', 'must name at least one strategy');
  const strategies: NamedStrategy[] = list.map((value, i) => {
    const where = `${r.path}.strategies[${i}]`;
    const config = parseStrategyConfig(value, where);
    checkSelectionSetup(config, units, budget, where);
    return { label: describeStrategy(config), config };
  });
  const seen = new Set<string>();
  for (const [i, s] of strategies.entries()) {
    if (seen.has(s.label)) throw new ConfigError(`${r.path}.strategies[${i}]: '${s.label}' is listed twice`);
    seen.add(s.label);
  }
  return {
    units,
    budget,
    ranking: r.oneOf('ranking', ['global', 'perImage'] as const, 'global'),
    strategies,
    scoringBatchSize: r.integer('scoringBatchSize', 4, 1),
    ...(r.has('keepPerImage') ? { keepPerImage: r.integer('keepPerImage', undefined, 1) } : {}),
  };
}

/** Checks an experiment config (from YAML, JSON or code) and fills in the defaults. */
export function parseExperimentConfig(value: unknown, baseDir = process.cwd()): ExperimentConfig {
  const r = ConfigReader.root(value, 'config');
  r.only(ROOT_KEYS);
  const name = r.string('name', 'experiment');
  const output = r.string('output', `runs/${name}`);
  let seeds = [0];
  if (r.has('seeds')) {
    const raw = r.raw('seeds');
    const list: unknown = typeof raw === 'number' ? [raw] : raw;
    if (!Array.isArray(list) || list.length === 0 || !list.every((s) => Number.isInteger(s) && s >= 0))
      throw new ConfigError(`config.seeds must be a non-empty list of integers >= 0, got ${JSON.stringify(raw)}`);
    if (new Set(list).size !== list.length) r.fail('seeds', `lists a seed twice: ${JSON.stringify(list)}`);
    seeds = list as number[];
  }
  let model: ModelConfig;
  try {
    model = resolveModelConfig(r.raw('model') ?? { kind: 'unet' }) as ModelConfig;
  } catch (e) {
    throw new ConfigError(`config.model: ${(e as Error).message}`);
  }
  const data = parseData(r.object('data'), baseDir);

  const s = r.object('source');
  s.only(['init', 'train']);
  let source: SourceConfig;
  if (s.has('init')) {
    if (s.has('train')) throw new ConfigError('config.source: give either init (a trained run or checkpoint) or train (a recipe), not both');
    const p = s.string('init');
    source = { kind: 'init', path: isAbsolute(p) ? p : resolve(baseDir, p) };
  } else {
    if (!s.has('train')) s.fail('train', 'is required (or source.init: a trained run directory or checkpoint)');
    source = { kind: 'train', train: trainSectionAt(s.raw('train'), 'config.source.train') };
  }

  let warmup: WarmupConfig | undefined;
  const w = r.object('warmup', true);
  if (w !== undefined) {
    w.only(['train', 'adapt']);
    const adapt = methodAt(w, 'adapt');
    if (adapt === undefined) return w.fail('adapt', 'is required: the UDA method of the warm-up, e.g. { method: advent-entropy }');
    const train = trainSectionAt(w.raw('train'), 'config.warmup.train');
    if (train.gradAccumulation !== 1) w.object('train').fail('gradAccumulation', 'must be 1 for adaptation');
    warmup = { train, adapt };
  }

  const active = parseActive(r.object('active'));
  const annotator = parseAnnotator(r.object('annotator', true));
  if (!r.has('rounds')) r.fail('rounds', 'is required: how each round trains, e.g. { train: { iterations: 300 } }');
  const rounds = parseRounds(r.object('rounds'));

  let baselines: BaselineKind[] = ['source-only', 'random', ...(warmup ? (['uda-only'] as const) : []), 'full'];
  if (r.has('baselines')) {
    const list = r.array('baselines');
    list.forEach((b, i) => {
      if (!BASELINES.includes(b as BaselineKind))
        throw new ConfigError(`config.baselines[${i}] must be one of ${BASELINES.join(', ')}, got ${JSON.stringify(b)}`);
    });
    baselines = [...new Set(list as BaselineKind[])];
  }
  if (baselines.includes('uda-only') && warmup === undefined)
    throw new ConfigError("config.baselines: 'uda-only' is the warm-up's model: add a warmup section (or drop the baseline)");
  if (baselines.includes('random') && !active.strategies.some((x) => x.config.strategy === 'random')) {
    active.strategies.push({ label: 'random', config: { strategy: 'random' } });
  }

  // What the strategies need must be there (asked through their declared needs, never their kind).
  for (const [i, st] of active.strategies.entries()) {
    const needs = createStrategy(st.config).needs;
    const where = `config.active.strategies[${i}] (${st.label})`;
    if (needs.includes('mcSamples') && !((model as { dropout?: number }).dropout! > 0))
      throw new ConfigError(`${where} needs MC-dropout samples: give the model dropout (config.model.dropout, e.g. 0.1)`);
    if (needs.includes('targetness') && providedDiscriminator(warmup?.adapt) === null) {
      throw new ConfigError(
        `${where} needs a domain discriminator: use an adversarial warm-up (config.warmup.adapt.method adaptsegnet or advent-adversarial); later rounds use the rounds' own discriminator when config.rounds.adapt is adversarial too`,
      );
    }
  }
  if (annotator.kind === 'human' && data.pool.format !== 'synthetic' && baselines.includes('full') && (data.pool as { labels?: string }).labels === 'none') {
    throw new ConfigError("config.baselines: 'full' needs the pool's labels, but config.data.pool has labels: none");
  }
  if (annotator.kind === 'simulated' && data.pool.format !== 'synthetic' && (data.pool as { labels?: string }).labels === 'none') {
    throw new ConfigError("config.data.pool: the simulated annotator reveals the pool's labels, but the pool has labels: none");
  }

  const e = r.object('eval', true) ?? ConfigReader.root({}, 'config.eval');
  e.only(['flip', 'batchSize']);
  const rep = r.object('report', true) ?? ConfigReader.root({}, 'config.report');
  rep.only(['examples']);
  return {
    name,
    output: isAbsolute(output) ? output : resolve(baseDir, output),
    seeds,
    model,
    data,
    source,
    ...(warmup ? { warmup } : {}),
    active,
    annotator,
    rounds,
    baselines,
    eval: { flip: e.boolean('flip', false), batchSize: e.integer('batchSize', 4, 1) },
    report: { examples: rep.integer('examples', 3, 0) },
  };
}

/** Reads a YAML or JSON experiment config; relative paths in it are relative to the file. */
export function loadExperimentConfig(file: string, overrides?: ConfigOverrides): ExperimentConfig {
  return loadConfigFile(file, parseExperimentConfig, overrides);
}

/** The resize to the working resolution (none when the config keeps the images' own size). */
export function resizeTransforms(config: ExperimentConfig): Transform[] {
  const r = config.data.resolution;
  return r === undefined ? [] : [{ kind: 'resize', width: r.width, height: r.height }];
}

/** The parts of a config that change what a run computes (resuming with others is refused). */
export function fingerprint(config: ExperimentConfig): Record<string, unknown> {
  return {
    model: config.model,
    data: config.data,
    source: config.source,
    warmup: config.warmup ?? null,
    units: config.active.units,
    budget: config.active.budget,
    ranking: config.active.ranking,
    rounds: config.rounds,
    eval: config.eval,
  };
}

/** Total training iterations of the active pipeline after source training (warm-up + every round). */
export function pipelineIterations(config: ExperimentConfig): number {
  return (config.warmup?.train.iterations ?? 0) + config.active.budget.rounds * config.rounds.train.iterations;
}
