// The active loop (`adaseg run`): for each seed, source training (or a given checkpoint) → optional
// UDA warm-up → for each strategy, rounds of: score the pool with the current model, select within
// the round's budget, annotate, train on source + labelled target (+ UDA and negative learning on
// the unlabelled target), evaluate on the target val set; then the baselines (source-only,
// UDA-only, fully supervised target, random) and the report.
//
// Everything is resumable. Training runs on the shared loop (checkpoints, exact resume); a round's
// selection, annotation, training and evaluation are recorded in the label store as they finish,
// so the same command continues where it stopped. Every random choice is seeded from (seed, round,
// strategy) and every model is read back from its checkpoint file before use, so an interrupted
// and resumed experiment computes exactly what an uninterrupted one does.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import * as torch from '@adaseg/torch';
import { type AdaptConfig } from '../adapt/config.js';
import { adaptModel } from '../adapt/adapt.js';
import { restoreDiscriminators } from '../adapt/discriminator.js';
import { providedDiscriminator } from '../adapt/registry.js';
import type { DatasetConfig } from '../data/config.js';
import { type DatasetDescription, numClasses, withoutLabel, withSamples } from '../data/dataset.js';
import { loadDataset } from '../data/formats/index.js';
import { preflightDatasets } from '../data/inspect.js';
import { hashSeed, hashString } from '../data/rng.js';
import type { SegmentationModel } from '../models/base.js';
import { buildModel } from '../models/config.js';
import { CheckpointManager, loadModelWeights, readCheckpointInfo } from '../train/checkpoint.js';
import type { TrainConfig } from '../train/config.js';
import { trainSupervised } from '../train/supervised.js';
import { ensureOutputFolder, writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { ConfigError } from '../util/config-reader.js';
import { type Annotator, HumanAnnotator, poolGroundTruth, SimulatedAnnotator } from './annotators.js';
import { roundBudget, seededRandom } from '../active/budget.js';
import { type ExperimentConfig, fingerprint, pipelineIterations, resizeTransforms } from './config.js';
import { type ExampleImage, type RawExperiment, type RawRun, type EvalSummary, buildResults, type ExperimentResults } from '../report/results.js';
import { exampleImages } from '../report/examples.js';
import { renderReport } from '../report/html.js';
import { evaluateOnTarget, labelledTargetSet, trainRound } from './round-training.js';
import { scorePool } from '../active/scorer.js';
import { SELECTION_ERRORS_INFO_KEY, type SelectionErrors, selectionErrors } from '../active/selection-errors.js';
import { OVERLAYS_INFO_KEY, writeQueryOverlays } from '../report/overlays.js';
import { createStrategy } from '../active/strategies/index.js';
import { LabelStore, slug, type UnitPixels } from '../labels/store.js';
import type { UnitRef } from '../active/types.js';
import { needsImage, poolImageRgb, superpixels, unitLayout, type ImageSize } from '../active/units.js';
import type { Segmentation } from '../data/slic.js';
import { type LabelPropagationConfig, propagateLabels } from './label-propagation.js';

export type LoopEvent =
  | { kind: 'source' | 'warmup' | 'full'; seed: number }
  | { kind: 'selected' | 'annotated' | 'trained' | 'evaluated'; seed: number; run: string; strategy: string; round: number };

export interface ExperimentRunOptions {
  signal?: AbortSignal;
  progress?: boolean;
  /** Human-readable progress lines. */
  log?: (line: string) => void;
  /** Called as each step finishes (tests stop the run at chosen points). */
  onEvent?: (event: LoopEvent) => void;
  /** Called after every training iteration, with what is training ('seed-0/entropy/round-2'). */
  onIteration?: (where: string, iteration: number) => void;
  /** Skip reading every image and label before the run (--skip-preflight). */
  skipPreflight?: boolean;
}

export interface ExperimentRunResult {
  output: string;
  /** True when stopped by the signal (run the same command again to resume). */
  stopped: boolean;
  seconds: number;
  results?: ExperimentResults;
  files?: { results: string; report: string; store: string };
}

/** The pool's target set without labels (formats that can skip reading them). */
function withoutLabels(d: DatasetConfig): DatasetConfig {
  return d.format === 'synthetic' ? d : { ...d, labels: 'none' };
}

/** Native (decoded) size of every pool image. */
async function nativeSizes(pool: DatasetDescription): Promise<ImageSize[]> {
  return Promise.all(
    pool.samples.map(async (s) => {
      if (s.image.kind === 'synthetic') return { width: s.image.scene.width, height: s.image.scene.height };
      const meta = await sharp(s.image.path).metadata();
      if (!meta.width || !meta.height) throw new Error(`cannot read the size of ${s.image.path}`);
      return { width: meta.width, height: meta.height };
    }),
  );
}

function latestCheckpoint(dir: string): string | null {
  return new CheckpointManager(join(dir, 'checkpoints')).latest();
}

/** A finished training: its latest checkpoint is at the last iteration. */
function finished(dir: string, iterations: number): string | null {
  const latest = latestCheckpoint(dir);
  if (latest === null) return null;
  return readCheckpointInfo(latest).iteration >= iterations ? latest : null;
}

/** The checkpoint of a run directory (best, else latest) or the file itself. */
function resolveCheckpoint(path: string): string {
  if (!existsSync(path)) throw new ConfigError(`config.source.init: ${path} does not exist`);
  if (path.endsWith('.safetensors')) return path;
  const m = new CheckpointManager(join(path, 'checkpoints'));
  const found = m.best() ?? m.latest();
  if (found === null) throw new ConfigError(`config.source.init: run directory ${path} has no checkpoint (checkpoints/checkpoints.json)`);
  return found;
}

interface Context {
  config: ExperimentConfig;
  options: ExperimentRunOptions;
  log: (line: string) => void;
  store: LabelStore;
  annotator: Annotator;
  source: DatasetDescription;
  /** The pool with its labels (ground truth, full baseline) and without (everything else). */
  poolLabelled: DatasetDescription;
  pool: DatasetDescription;
  val: DatasetDescription;
  classes: number;
  native: ImageSize[];
  working: ImageSize[];
  poolPixels: number;
  /** SLIC segmentations of pool images for label propagation, computed once per process. */
  segmentations: Map<number, Segmentation>;
}

function event(ctx: Context, e: LoopEvent): void {
  appendFileSync(join(ctx.config.output, 'events.jsonl'), `${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);
  ctx.options.onEvent?.(e);
}

function loadModel(ctx: Context, file: string): SegmentationModel {
  const model = buildModel(ctx.config.model, ctx.classes);
  try {
    torch.tidy(() => {
      model.loadStateDict(loadModelWeights(file));
    });
  } catch (e) {
    model.dispose();
    throw new Error(`cannot load ${file} into the configured model (${JSON.stringify(ctx.config.model)}): ${(e as Error).message}`);
  }
  return model;
}

/**
 * Which classes the validation labels have a pixel of, at the evaluation resolution (the second
 * mIoU of report/results.ts). The pool's ground-truth reader serves: the same transforms as
 * evaluation.
 */
async function classesInVal(ctx: Context): Promise<boolean[]> {
  const truth = poolGroundTruth(ctx.val, resizeTransforms(ctx.config));
  const present = new Array<boolean>(ctx.classes).fill(false);
  for (const [i, sample] of ctx.val.samples.entries()) {
    for (const v of await truth(i, sample.id)) if (v < ctx.classes) present[v] = true;
  }
  return present;
}

/** Evaluates a checkpoint on the target val set, once (cached in `file` beside it). */
async function evaluateCheckpoint(ctx: Context, checkpoint: string, file: string): Promise<EvalSummary> {
  if (existsSync(file)) {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as EvalSummary;
    if (cached.checkpoint === checkpoint) return cached;
  }
  const model = loadModel(ctx, checkpoint);
  try {
    const r = await evaluateOnTarget(model, ctx.val, ctx.config);
    const summary: EvalSummary = { checkpoint, mIoU: r.mIoU, pixelAccuracy: r.pixelAccuracy, iou: r.iou, classNames: r.classNames };
    writeJsonAtomic(file, summary);
    return summary;
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------- per seed: start models

/**
 * A seed's source training or warm-up ('source', 'warmup'): its run directory, its checkpoint when
 * it already ran `iterations`, the pool's resize, and the fields its training config starts with.
 */
function trainingSetup(config: ExperimentConfig, what: 'source' | 'warmup', seed: number, iterations: number) {
  const dir = join(config.output, `seed-${seed}`, what);
  return {
    dir,
    done: finished(dir, iterations),
    resize: resizeTransforms(config),
    head: { name: `${what} seed ${seed}`, output: dir, seed, model: config.model },
  };
}

async function sourceModel(ctx: Context, seed: number): Promise<string | null> {
  const { config } = ctx;
  if (config.source.kind === 'init') return resolveCheckpoint(config.source.path);
  const { dir, done, resize, head } = trainingSetup(config, 'source', seed, config.source.train.iterations);
  if (done !== null) return done;
  const trainConfig: TrainConfig = {
    ...head,
    data: {
      train: config.data.source,
      val: [],
      batchSize: config.data.batchSize,
      workers: config.data.workers,
      transforms: [...resize, ...config.data.transforms],
      evalTransforms: resize,
      normalize: config.data.normalize,
      cache: config.data.cache,
    },
    train: config.source.train,
    eval: config.eval,
  };
  ctx.log(`seed ${seed}: source training (${config.source.train.iterations} iterations) in ${dir}`);
  const result = await trainSupervised(trainConfig, {
    skipPreflight: true,
    resume: true,
    signal: ctx.options.signal,
    progress: ctx.options.progress,
    log: ctx.log,
    onIteration: (i) => ctx.options.onIteration?.(`seed-${seed}/source`, i),
  });
  if (result.stopped) return null;
  return latestCheckpoint(dir);
}

async function warmupModel(ctx: Context, seed: number, sourceCheckpoint: string): Promise<string | null> {
  const { config } = ctx;
  const warmup = config.warmup!;
  const { dir, done, resize, head } = trainingSetup(config, 'warmup', seed, warmup.train.iterations);
  if (done !== null) return done;
  const adaptConfig: AdaptConfig = {
    ...head,
    init: sourceCheckpoint,
    data: {
      source: config.data.source,
      target: withoutLabels(config.data.pool),
      val: [],
      batchSize: config.data.batchSize,
      workers: config.data.workers,
      transforms: [...resize, ...config.data.transforms],
      targetTransforms: [...resize, ...config.data.targetTransforms],
      evalTransforms: resize,
      normalize: config.data.normalize,
      cache: config.data.cache,
    },
    train: warmup.train,
    eval: config.eval,
    adapt: warmup.adapt,
  };
  ctx.log(`seed ${seed}: UDA warm-up (${warmup.adapt.method}, ${warmup.train.iterations} iterations) in ${dir}`);
  const result = await adaptModel(adaptConfig, {
    skipPreflight: true,
    resume: true,
    signal: ctx.options.signal,
    progress: ctx.options.progress,
    log: ctx.log,
    onIteration: (i) => ctx.options.onIteration?.(`seed-${seed}/warmup`, i),
  });
  if (result.stopped) return null;
  return latestCheckpoint(dir);
}

// ---------------------------------------------------------------- a strategy's rounds

/** The pixels of each chosen unit (layouts built once per image). */
async function withPixels(ctx: Context, chosen: UnitRef[]): Promise<UnitPixels[]> {
  const units = ctx.config.active.units;
  const layouts = new Map<number, ReturnType<typeof unitLayout>>();
  const out: UnitPixels[] = [];
  for (const u of chosen) {
    let layout = layouts.get(u.image);
    if (layout === undefined) {
      const rgb = needsImage(units) ? await poolImageRgb(ctx.pool, u.image, resizeTransforms(ctx.config)) : undefined;
      layout = unitLayout(units, ctx.working[u.image], rgb);
      layouts.set(u.image, layout);
    }
    out.push({
      image: u.image,
      imageId: u.imageId,
      unit: u.unit,
      pixels: u.pixels,
      pixelIndices: layout.pixels(u.unit),
      ...((u as { score?: number }).score !== undefined ? { score: (u as { score?: number }).score } : {}),
    });
  }
  return out;
}

/** Where the round's domain discriminator comes from (for strategies that need target-ness). */
function discriminatorCheckpoint(ctx: Context, seed: number, previousRound: string | null): string {
  if (previousRound !== null && providedDiscriminator(ctx.config.rounds.adapt) !== null) return previousRound;
  const warm = providedDiscriminator(ctx.config.warmup?.adapt) !== null ? latestCheckpoint(join(ctx.config.output, `seed-${seed}`, 'warmup')) : null;
  if (warm === null) throw new Error('a strategy needs a domain discriminator, but no adversarial warm-up checkpoint exists');
  return warm;
}

async function selectRound(
  ctx: Context,
  seed: number,
  label: string,
  run: string,
  round: number,
  scoring: string,
  previousRound: string | null,
  strategyConfig: ExperimentConfig['active']['strategies'][number]['config'],
): Promise<void> {
  const { config } = ctx;
  const strategy = createStrategy(strategyConfig);
  const info = ctx.store.run(run);
  const budget = roundBudget(config.active.budget, {
    round,
    pool: { images: ctx.pool.samples.length, pixels: ctx.poolPixels },
    spent: { units: info.labelledUnits, pixels: info.coveredPixels },
  });
  const covered = ctx.store.coveredMasks(run);
  const model = loadModel(ctx, scoring);
  let discriminator: ReturnType<typeof restoreDiscriminators> | undefined;
  try {
    if (strategy.needs.includes('targetness')) discriminator = restoreDiscriminators(discriminatorCheckpoint(ctx, seed, previousRound));
    torch.manualSeed(hashSeed(seed, round, 0x5c0e));
    const started = performance.now();
    const records = await scorePool(model, ctx.pool, strategy, {
      units: config.active.units,
      labelled: (_i, id) => covered.get(id),
      seed: hashSeed(seed, round),
      ...(config.active.keepPerImage !== undefined ? { keepPerImage: config.active.keepPerImage } : {}),
      batchSize: config.active.scoringBatchSize,
      workers: config.data.workers,
      transforms: resizeTransforms(config),
      normalize: config.data.normalize,
      ...(discriminator ? { discriminator: discriminator.main } : {}),
      source: ctx.source,
    });
    const chosen = strategy.select(records, { budget, random: seededRandom(seed, round, hashString(label)), ranking: config.active.ranking });
    const selection = await withPixels(ctx, chosen);
    const pixels = selection.reduce((s, u) => s + u.pixels, 0);
    if (budget.pixels !== undefined && pixels > budget.pixels)
      throw new Error(`${label} selected ${pixels} pixels in round ${round}, over the round's budget of ${budget.pixels}`);
    if (budget.units !== undefined && selection.length > budget.units)
      throw new Error(`${label} selected ${selection.length} units in round ${round}, over the round's budget of ${budget.units}`);
    const scoringSeconds = (performance.now() - started) / 1000;
    // People see what the scoring model predicted on the images they are asked about (written
    // before the selection is saved, so a saved selection always has its overlays).
    let overlays: string | undefined;
    if (config.annotator.kind === 'human') {
      overlays = [`seed-${seed}`, slug(label), `round-${round}`, 'overlays'].join('/');
      await writeQueryOverlays(
        model,
        ctx.pool,
        selection.map((u) => u.image),
        {
          dir: join(config.output, overlays),
          palette: ctx.pool.classes.palette,
          transforms: resizeTransforms(config),
          normalize: config.data.normalize,
          batchSize: config.active.scoringBatchSize,
          workers: config.data.workers,
        },
      );
    }
    ctx.store.saveSelection(run, round, selection, {
      scoredWith: scoring,
      info: {
        budget,
        selectedUnits: selection.length,
        selectedPixels: pixels,
        candidates: records.length,
        scoringSeconds,
        ...(overlays !== undefined ? { [OVERLAYS_INFO_KEY]: overlays } : {}),
      },
    });
    ctx.log(
      `${run} round ${round}: selected ${selection.length} units (${pixels} px; budget ${budget.pixels !== undefined ? `${budget.pixels} px` : `${budget.units} units`}) from ${records.length} candidates`,
    );
  } finally {
    model.dispose();
    discriminator?.main.dispose();
    discriminator?.aux?.dispose();
  }
}

/**
 * Label propagation for a round's training (label-propagation.ts): the run's masks, in place,
 * with each superpixel's single class spread over its unknown pixels. Logs what it added.
 */
async function propagateMasks(
  ctx: Context,
  run: string,
  round: number,
  masks: Map<string, { index: number; data: Uint8Array }>,
  settings: LabelPropagationConfig,
): Promise<void> {
  const covered = ctx.store.coveredMasks(run);
  let after = 0;
  for (const [id, mask] of masks) {
    let segmentation = ctx.segmentations.get(mask.index);
    if (segmentation === undefined) {
      const rgb = await poolImageRgb(ctx.pool, mask.index, resizeTransforms(ctx.config));
      segmentation = superpixels({ kind: 'superpixel', size: settings.superpixelSize, compactness: settings.compactness }, ctx.working[mask.index], rgb);
      ctx.segmentations.set(mask.index, segmentation);
    }
    mask.data = propagateLabels(mask.data, segmentation, ctx.classes, covered.get(id));
    for (const v of mask.data) if (v < ctx.classes) after++;
  }
  ctx.log(
    `${run} round ${round}: label propagation over superpixels of ~${settings.superpixelSize} px: ${ctx.store.labelledPixels(run)} labelled pixels train as ${after}`,
  );
}

/** Of the round's labelled pixels, those the model that chose them had wrong (see selection-errors.ts). */
async function roundSelectionErrors(ctx: Context, run: string, round: number, scoredWith: string): Promise<SelectionErrors> {
  const model = loadModel(ctx, scoredWith);
  try {
    return await selectionErrors(model, ctx.pool, ctx.store.selection(run, round), ctx.store.labelledMasks(run), ctx.classes, {
      transforms: resizeTransforms(ctx.config),
      normalize: ctx.config.data.normalize,
      batchSize: ctx.config.active.scoringBatchSize,
      workers: ctx.config.data.workers,
    });
  } finally {
    model.dispose();
  }
}

/** Runs (or resumes) a strategy's rounds for a seed; false when stopped. */
async function runStrategy(ctx: Context, seed: number, strategyIndex: number, start: string): Promise<boolean> {
  const { config, store } = ctx;
  const { label, config: strategyConfig } = config.active.strategies[strategyIndex];
  const run = `${slug(label)}/seed-${seed}`;
  const runDir = join(config.output, `seed-${seed}`, slug(label));
  store.ensureRun(run, {
    strategy: label,
    seed,
    units: config.active.units,
    classNames: [...ctx.pool.classes.names],
    palette: ctx.pool.classes.palette.map((c) => [c[0], c[1], c[2]] as [number, number, number]),
    images: ctx.pool.samples.map((s, i) => ({ id: s.id, index: i, width: ctx.working[i].width, height: ctx.working[i].height })),
  });
  let previous = start;
  let previousRound: string | null = null;
  for (let round = 1; round <= config.active.budget.rounds; round++) {
    let state = store.round(run, round);
    if (state?.phase === 'evaluated') {
      previous = state.checkpoint!;
      previousRound = previous;
      continue;
    }
    if (ctx.options.signal?.aborted) return false;
    if (state === undefined) {
      await selectRound(ctx, seed, label, run, round, previous, previousRound, strategyConfig);
      state = store.round(run, round)!;
      event(ctx, { kind: 'selected', seed, run, strategy: label, round });
      if (ctx.options.signal?.aborted) return false;
    }
    if (state.phase === 'selected' || state.phase === 'querying') {
      const result = await ctx.annotator.annotate(
        store,
        { run, round, strategy: label, checkpoint: state.scoredWith, units: config.active.units, selection: store.selection(run, round) },
        { signal: ctx.options.signal, log: ctx.log },
      );
      if (result.stopped) return false;
      state = store.round(run, round)!;
      event(ctx, { kind: 'annotated', seed, run, strategy: label, round });
      if (ctx.options.signal?.aborted) return false;
    }
    const roundDir = join(runDir, `round-${round}`);
    if (state.phase === 'annotated') {
      mkdirSync(roundDir, { recursive: true });
      const model = loadModel(ctx, config.rounds.init === 'previous' ? previous : start);
      try {
        const masks = store.labelledMasks(run);
        if (config.rounds.labelPropagation !== undefined) await propagateMasks(ctx, run, round, masks, config.rounds.labelPropagation);
        let target = labelledTargetSet(ctx.pool, masks, ctx.native, config.rounds.targetData);
        if (target.samples.length === 0) target = ctx.pool; // nothing labelled (yet): the unlabelled losses only
        const where = `seed-${seed}/${slug(label)}/round-${round}`;
        const result = await trainRound({
          config,
          output: roundDir,
          iterations: config.rounds.train.iterations,
          seed: hashSeed(seed, round, hashString(label)),
          model,
          source: ctx.source,
          target,
          unlabelledTarget: ctx.pool,
          signal: ctx.options.signal,
          progress: ctx.options.progress,
          label: `${label} seed ${seed} round ${round}/${config.active.budget.rounds}`,
          log: ctx.log,
          onIteration: (i) => ctx.options.onIteration?.(where, i),
        });
        if (result.stopped) return false;
      } finally {
        model.dispose();
      }
      store.setPhase(run, round, 'trained', { checkpoint: latestCheckpoint(roundDir)! });
      state = store.round(run, round)!;
      event(ctx, { kind: 'trained', seed, run, strategy: label, round });
      if (ctx.options.signal?.aborted) return false;
    }
    const checkpoint = state.checkpoint!;
    const ev = await evaluateCheckpoint(ctx, checkpoint, join(roundDir, 'evaluation.json'));
    const errors = state.scoredWith === null ? null : await roundSelectionErrors(ctx, run, round, state.scoredWith);
    const info = store.run(run);
    store.setPhase(run, round, 'evaluated', {
      info: {
        mIoU: ev.mIoU,
        iou: ev.iou,
        coveredPixels: info.coveredPixels,
        labelledPixels: info.labelledPixels,
        labelledUnits: info.labelledUnits,
        percent: (100 * info.coveredPixels) / ctx.poolPixels,
        ...(errors === null ? {} : { [SELECTION_ERRORS_INFO_KEY]: errors }),
      },
    });
    ctx.log(`${run} round ${round}: ${((100 * info.coveredPixels) / ctx.poolPixels).toFixed(3)}% of pool pixels labelled, mIoU ${(ev.mIoU * 100).toFixed(2)}`);
    event(ctx, { kind: 'evaluated', seed, run, strategy: label, round });
    previous = checkpoint;
    previousRound = checkpoint;
  }
  return true;
}

async function fullBaseline(ctx: Context, seed: number, sourceCheckpoint: string): Promise<EvalSummary | null> {
  const { config } = ctx;
  const dir = join(config.output, `seed-${seed}`, 'full');
  const evalFile = join(dir, 'evaluation.json');
  const iterations = pipelineIterations(config);
  let checkpoint = finished(dir, iterations);
  if (checkpoint === null) {
    if (ctx.poolLabelled.samples.every((s) => s.label.kind === 'none'))
      throw new Error("the 'full' baseline trains on every pool label, but the pool has none (drop 'full' from config.baselines)");
    mkdirSync(dir, { recursive: true });
    ctx.log(`seed ${seed}: fully supervised target baseline (every pool label, ${iterations} iterations) in ${dir}`);
    const model = loadModel(ctx, sourceCheckpoint);
    try {
      const result = await trainRound({
        config,
        output: dir,
        iterations,
        seed: hashSeed(seed, 0xf011),
        model,
        source: ctx.source,
        target: ctx.poolLabelled,
        unlabelledTarget: ctx.pool,
        signal: ctx.options.signal,
        progress: ctx.options.progress,
        label: `full supervision seed ${seed}`,
        log: ctx.log,
        onIteration: (i) => ctx.options.onIteration?.(`seed-${seed}/full`, i),
      });
      if (result.stopped) return null;
    } finally {
      model.dispose();
    }
    checkpoint = latestCheckpoint(dir)!;
  }
  const ev = await evaluateCheckpoint(ctx, checkpoint, evalFile);
  event(ctx, { kind: 'full', seed });
  return ev;
}

// ---------------------------------------------------------------- results and report

function rawRun(ctx: Context, label: string, seed: number, startEval: EvalSummary): RawRun | null {
  const run = `${slug(label)}/seed-${seed}`;
  const rounds = ctx.store.rounds(run).filter((r) => r.phase === 'evaluated');
  if (rounds.length !== ctx.config.active.budget.rounds) return null;
  return {
    strategy: label,
    seed,
    rounds: [
      { round: 0, coveredPixels: 0, labelledPixels: 0, units: 0, percent: 0, mIoU: startEval.mIoU, iou: startEval.iou },
      ...rounds.map((r) => ({
        round: r.round,
        coveredPixels: r.info.coveredPixels,
        labelledPixels: r.info.labelledPixels,
        units: r.info.labelledUnits,
        percent: r.info.percent,
        mIoU: r.info.mIoU,
        iou: r.info.iou,
      })),
    ],
  };
}

/** Example pool images of a run for the report (report/examples.ts). */
function examples(ctx: Context, label: string, seed: number, count: number): Promise<ExampleImage[]> {
  return exampleImages(ctx.store, {
    run: `${slug(label)}/seed-${seed}`,
    strategy: label,
    seed,
    count,
    pool: ctx.pool,
    working: ctx.working,
    transforms: resizeTransforms(ctx.config),
  });
}

// ---------------------------------------------------------------- the experiment

/** Checks a previous config.json in the output folder against this config (resuming another experiment is refused). */
function checkOutput(config: ExperimentConfig): void {
  const file = join(config.output, 'config.json');
  if (existsSync(file)) {
    const previous = JSON.parse(readFileSync(file, 'utf8')) as ExperimentConfig;
    const a = fingerprint(previous);
    const b = fingerprint(config);
    const changed = Object.keys(b).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    if (changed.length > 0) {
      throw new ConfigError(
        `${config.output} holds an experiment with other ${changed.join(', ')} settings: its results would not be comparable. Use another output folder, or --no-resume to delete it and start over`,
      );
    }
  }
  writeJsonAtomic(file, config);
}

/** Deletes what a previous run of this experiment left in its output folder (--no-resume). */
export function clearExperimentOutput(output: string): void {
  if (!existsSync(output)) return;
  for (const f of ['labels.sqlite', 'labels.sqlite-wal', 'labels.sqlite-shm', 'config.json', 'events.jsonl', 'run.log', 'results.json', 'report.html'])
    rmSync(join(output, f), { force: true });
  for (const entry of readdirSync(output)) if (/^seed-\d+$/.test(entry)) rmSync(join(output, entry), { recursive: true, force: true });
}

export async function runExperiment(config: ExperimentConfig, options: ExperimentRunOptions = {}): Promise<ExperimentRunResult> {
  const started = performance.now();
  ensureOutputFolder(config.output);
  checkOutput(config);
  const logFile = join(config.output, 'run.log');
  const log = (line: string) => {
    appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
    options.log?.(line);
  };
  const [source, poolLabelled, val] = await Promise.all([loadDataset(config.data.source), loadDataset(config.data.pool), loadDataset(config.data.val)]);
  const classes = numClasses(source);
  for (const [what, ds] of [
    ['pool', poolLabelled],
    ['val', val],
  ] as const) {
    if (numClasses(ds) !== classes) throw new Error(`config.data.${what} has ${numClasses(ds)} classes, config.data.source ${classes}`);
  }
  if (!options.skipPreflight) {
    await preflightDatasets(
      [
        { what: 'data.source', dataset: source },
        { what: 'data.pool', dataset: poolLabelled },
        { what: 'data.val', dataset: val },
      ],
      { log },
    );
  }
  const pool = withSamples(poolLabelled, poolLabelled.samples.map(withoutLabel));
  const native = await nativeSizes(poolLabelled);
  const res = config.data.resolution;
  const working = res === undefined ? native : native.map(() => ({ width: res.width, height: res.height }));
  const poolPixels = working.reduce((s, w) => s + w.width * w.height, 0);
  const resize = resizeTransforms(config);
  const annotator: Annotator =
    config.annotator.kind === 'simulated'
      ? new SimulatedAnnotator(poolGroundTruth(poolLabelled, resize))
      : new HumanAnnotator({
          minFraction: config.annotator.minFraction,
          pollSeconds: config.annotator.pollSeconds,
          queryKind: config.annotator.queryKind,
          unitsPerQuery: config.annotator.unitsPerQuery,
        });
  const store = LabelStore.open(join(config.output, 'labels.sqlite'));
  const ctx: Context = {
    config,
    options,
    log,
    store,
    annotator,
    source,
    poolLabelled,
    pool,
    val,
    classes,
    native,
    working,
    poolPixels,
    segmentations: new Map(),
  };
  const stopped = (): ExperimentRunResult => ({ output: config.output, stopped: true, seconds: (performance.now() - started) / 1000 });
  try {
    const raw: RawExperiment = {
      name: config.name,
      classNames: [...pool.classes.names],
      poolImages: pool.samples.length,
      poolPixels,
      seeds: config.seeds,
      rounds: config.active.budget.rounds,
      budget: config.active.budget,
      units: config.active.units,
      strategies: config.active.strategies.map((s) => s.label),
      pipelineIterations: pipelineIterations(config),
      runs: [],
      baselines: [],
      examples: [],
    };
    for (const seed of config.seeds) {
      const sourceCheckpoint = await sourceModel(ctx, seed);
      if (sourceCheckpoint === null) return stopped();
      event(ctx, { kind: 'source', seed });
      const seedDir = join(config.output, `seed-${seed}`);
      mkdirSync(seedDir, { recursive: true });
      const sourceEval = await evaluateCheckpoint(ctx, sourceCheckpoint, join(seedDir, 'source-evaluation.json'));
      let start = sourceCheckpoint;
      let startEval = sourceEval;
      let udaEval: EvalSummary | undefined;
      if (config.warmup !== undefined) {
        const warm = await warmupModel(ctx, seed, sourceCheckpoint);
        if (warm === null) return stopped();
        event(ctx, { kind: 'warmup', seed });
        udaEval = await evaluateCheckpoint(ctx, warm, join(seedDir, 'warmup-evaluation.json'));
        start = warm;
        startEval = udaEval;
      }
      for (let i = 0; i < config.active.strategies.length; i++) {
        if (!(await runStrategy(ctx, seed, i, start))) return stopped();
        raw.runs.push(rawRun(ctx, config.active.strategies[i].label, seed, startEval)!);
      }
      let fullEval: EvalSummary | undefined;
      if (config.baselines.includes('full')) {
        const ev = await fullBaseline(ctx, seed, sourceCheckpoint);
        if (ev === null) return stopped();
        fullEval = ev;
      }
      raw.baselines.push({
        seed,
        ...(config.baselines.includes('source-only') ? { sourceOnly: sourceEval } : {}),
        ...(udaEval && config.baselines.includes('uda-only') ? { udaOnly: udaEval } : {}),
        ...(fullEval ? { full: fullEval } : {}),
      });
    }
    for (const s of config.active.strategies) raw.examples.push(...(await examples(ctx, s.label, config.seeds[0], config.report.examples)));
    raw.classesInVal = await classesInVal(ctx);
    const results = buildResults(raw);
    const resultsFile = join(config.output, 'results.json');
    const reportFile = join(config.output, 'report.html');
    writeJsonAtomic(resultsFile, results);
    writeFileAtomic(reportFile, renderReport(results, raw.examples));
    log(`results: ${resultsFile}\nreport: ${reportFile}`);
    return {
      output: config.output,
      stopped: false,
      seconds: (performance.now() - started) / 1000,
      results,
      files: { results: resultsFile, report: reportFile, store: store.file },
    };
  } finally {
    store.close();
  }
}
