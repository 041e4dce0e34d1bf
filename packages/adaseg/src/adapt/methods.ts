// Adaptation methods behind one interface, and the adaptation objective the Trainer trains. An
// iteration (adaptationStep) is the same for all:
//
//   1. source batch: segmentation loss (main + auxWeight x aux), backward;
//   2. labelled target batch, when there is one (adaseg adapt with labelled target data): the same,
//      weighted, backward;
//   3. target batch: forward, then the labelled target pixels' weighted cross-entropy when the
//      batch carries labels (active rounds: one forward for both, as RIPU) plus the method's target
//      loss (adversarial, entropy, pseudo-label cross-entropy, negative learning) with its
//      auxiliary networks frozen, backward;
//   4. the method updates its auxiliary networks (the discriminators) from the detached source and
//      target predictions, through the Trainer's auxiliary update;
//   then the Trainer steps the segmenter's optimiser. Losses are backpropagated phase by phase (as
//   AdaptSegNet and ADVENT do) so only one forward graph is alive at a time.
import * as torch from '@adaseg/torch';
import type { DatasetDescription } from '../data/dataset.js';
import type { Batch, LoaderOptions } from '../data/loader.js';
import type { SegmentationModel } from '../models/base.js';
import {
  detachLevels,
  entropyLoss,
  ganLoss,
  type LabelledBatch,
  levelsOf,
  type OutputLevels,
  segmentationLoss,
  SOURCE_LABEL,
  TARGET_LABEL,
} from '../train/losses.js';
import { type LrScheduler, type Objective, PLAIN_STEP, type StepContext } from '../train/trainer.js';
import type { AdaptMethodConfig, AdversarialConfig, EntropyConfig, SelfTrainingConfig } from './config.js';
import { type DiscriminatorInput, FCDiscriminator } from './discriminator.js';
import { adaptMethodEntry, type ProvidedDiscriminator } from './registry.js';
import { PseudoLabeler } from './pseudo-labels.js';

type Tensor = torch.Tensor;

export type { LabelledBatch, OutputLevels };
export { levelsOf };

export interface AdaptationBatches {
  source: LabelledBatch;
  /**
   * Target images; with labels (255 where unknown, as the partial masks of active rounds) their
   * labelled pixels also get the weighted cross-entropy, on the same forward as the method's loss.
   */
  target: { images: Tensor; labels?: Tensor };
  /** A separate labelled target batch (adaseg adapt's data.labelledTarget). */
  labelledTarget?: LabelledBatch;
}

export interface TargetLossResult {
  /** Added to the segmenter's objective (null: nothing to add). */
  loss: Tensor | null;
  scalars: Record<string, number>;
}

export interface AdaptationMethod {
  readonly kind: AdaptMethodConfig['method'];
  /** Networks trained or kept beside the segmenter, checkpointed as `modules.<name>`. */
  readonly modules: Record<string, torch.nn.Module>;
  /** Their optimisers, checkpointed as `optim.<name>`. */
  readonly optimizers: Record<string, torch.optim.Optimizer<any>>;
  /** Their learning-rate schedules, stepped once per iteration with the segmenter's. */
  readonly schedulers: Record<string, LrScheduler>;
  /**
   * Before an iteration's batches are used (e.g. refreshing pseudo-labels). Returns what to record
   * in the run's log as an event, or null when it did nothing.
   */
  prepare(iteration: number): Promise<Record<string, unknown> | null>;
  /**
   * The method's loss on the segmenter's outputs for an unlabelled target batch (graph attached).
   * The method's own networks must not receive gradients from it (they are frozen here).
   */
  targetLoss(target: OutputLevels, images: Tensor): TargetLossResult;
  /**
   * After the segmenter's backward: trains the method's networks on the (detached) predictions
   * of the source and target batches, through ctx.updateAuxiliary (default: a plain step). Must
   * not send gradients into the segmenter.
   */
  updateAuxiliary(source: OutputLevels, target: OutputLevels, ctx?: StepContext): Record<string, number>;
  /** What its checkpoints record about its modules (as Objective.checkpointInfo). */
  checkpointInfo?(): Record<string, unknown>;
  dispose(): void;
}

export interface StepOptions {
  /** Weight of auxiliary outputs in segmentation losses (train.auxWeight). */
  auxWeight: number;
  /** Per-class cross-entropy weights [C] of the labelled losses (train.classWeights), or null. */
  classWeight?: Tensor | null;
  /** Weight of the labelled target batch's loss. */
  labelledTargetWeight: number;
}

/**
 * One adaptation iteration up to (not including) the segmenter optimiser's step, its losses
 * backpropagated through ctx (default: plainly, for callers outside the Trainer that zero the
 * gradients before and step after). Returns the scalars to log.
 */
export function adaptationStep(
  model: SegmentationModel,
  method: AdaptationMethod,
  batches: AdaptationBatches,
  options: StepOptions,
  ctx: StepContext = PLAIN_STEP,
): Record<string, number> {
  const scalars: Record<string, number> = {};
  const classWeight = options.classWeight ?? null;
  const source = torch.tidy(() => {
    const levels = levelsOf(model.forward(batches.source.images));
    const loss = segmentationLoss(levels, batches.source.labels, options.auxWeight, classWeight);
    ctx.backward(loss);
    scalars.seg = loss.item() as number;
    return detachLevels(levels);
  });
  try {
    if (batches.labelledTarget !== undefined && options.labelledTargetWeight > 0) {
      const lt = batches.labelledTarget;
      torch.tidy(() => {
        const loss = segmentationLoss(levelsOf(model.forward(lt.images)), lt.labels, options.auxWeight, classWeight);
        ctx.backward(loss.mul(options.labelledTargetWeight));
        scalars.segTarget = loss.item() as number;
      });
    }
    const target = torch.tidy(() => {
      const levels = levelsOf(model.forward(batches.target.images));
      let loss: Tensor | null = null;
      const labels = batches.target.labels;
      if (labels !== undefined && options.labelledTargetWeight > 0) {
        const ce = segmentationLoss(levels, labels, options.auxWeight, classWeight);
        scalars.segTarget = ce.item() as number;
        loss = ce.mul(options.labelledTargetWeight);
      }
      const result = method.targetLoss(levels, batches.target.images);
      Object.assign(scalars, result.scalars);
      if (result.loss !== null) loss = loss === null ? result.loss : loss.add(result.loss);
      if (loss !== null) ctx.backward(loss);
      return detachLevels(levels);
    });
    try {
      Object.assign(scalars, method.updateAuxiliary(source, target, ctx));
    } finally {
      torch.dispose(target);
    }
  } finally {
    torch.dispose(source);
  }
  return scalars;
}

/** The batches of an adaptation iteration as the Trainer draws them (stream name -> batch). */
export type AdaptationStreams = { source: Batch; target: Batch; labelledTarget?: Batch };

/**
 * Adaptation as an objective of the Trainer: the method's networks, optimisers and schedules
 * beside the segmenter, adaptationStep over each iteration's batches. `targetLabels`: the target
 * stream's labels are partial masks to learn from (active rounds), not to be ignored.
 */
export class AdaptationObjective implements Objective<AdaptationStreams> {
  readonly modules: Record<string, torch.nn.Module>;
  readonly optimizers: Record<string, torch.optim.Optimizer<any>>;
  readonly schedulers: Record<string, LrScheduler>;

  constructor(
    private readonly model: SegmentationModel,
    private readonly method: AdaptationMethod,
    private readonly options: StepOptions & { targetLabels: boolean },
  ) {
    this.modules = method.modules;
    this.optimizers = method.optimizers;
    this.schedulers = method.schedulers;
  }

  prepare(iteration: number): Promise<Record<string, unknown> | null> {
    return this.method.prepare(iteration);
  }

  checkpointInfo(): Record<string, unknown> {
    return this.method.checkpointInfo?.() ?? {};
  }

  step(batches: AdaptationStreams, ctx: StepContext): Record<string, number> {
    const { source, target, labelledTarget } = batches;
    return adaptationStep(
      this.model,
      this.method,
      { source, target: this.options.targetLabels ? target : { images: target.images }, ...(labelledTarget ? { labelledTarget } : {}) },
      this.options,
      ctx,
    );
  }

  dispose(): void {
    this.method.dispose();
    this.options.classWeight?.dispose();
  }
}

/** The levels a method works on: main alone, or [aux, main] (the first auxiliary output). */
function selectLevels(levels: OutputLevels, multi: boolean): { name: 'main' | 'aux'; logits: Tensor }[] {
  if (!multi) return [{ name: 'main', logits: levels.main }];
  if (levels.aux.length === 0)
    throw new Error("multi-level adaptation needs a model with an auxiliary output in training (e.g. deeplabv2 with multiLevel); use levels: 'single'");
  return [
    { name: 'aux', logits: levels.aux[0] },
    { name: 'main', logits: levels.main },
  ];
}

export interface MethodContext {
  model: SegmentationModel;
  /** Total iterations of the run (schedules of the method's optimisers). */
  iterations: number;
  /** Multi-level (resolved from config `levels`). */
  multiLevel: boolean;
  /** Weight of auxiliary outputs in cross-entropy terms (train.auxWeight). */
  auxWeight: number;
  /** The unlabelled target set and how to load it for whole-set passes (pseudo-label thresholds). */
  targetSet?: DatasetDescription;
  targetLoader?: Omit<LoaderOptions, 'shuffle' | 'seed'>;
  log?: (line: string) => void;
}

/**
 * Output-space adversarial adaptation: AdaptSegNet (D reads the softmax) and ADVENT's AdvEnt (D
 * reads self-information maps); one discriminator per level.
 */
export class AdversarialMethod implements AdaptationMethod {
  readonly kind: AdversarialConfig['method'];
  readonly modules: Record<string, FCDiscriminator> = {};
  readonly optimizers: Record<string, torch.optim.Adam> = {};
  readonly schedulers: Record<string, LrScheduler> = {};
  private readonly weights: Record<string, number>;

  constructor(
    readonly config: AdversarialConfig,
    ctx: MethodContext,
    private readonly input: DiscriminatorInput,
  ) {
    this.kind = config.method;
    const levels = ctx.multiLevel ? ['aux', 'main'] : ['main'];
    this.weights = { main: config.lambdaAdv, aux: config.lambdaAdvAux };
    for (const level of levels) {
      const d = new FCDiscriminator({
        inChannels: ctx.model.numClasses,
        ndf: config.discriminator.ndf,
        input,
        objective: config.gan,
      });
      const opt = new torch.optim.Adam(d.parameters(), { lr: config.discriminator.lr, betas: config.discriminator.betas });
      const name = `d_${level}`;
      this.modules[name] = d;
      this.optimizers[name] = opt;
      this.schedulers[name] = new torch.optim.PolynomialLR(opt, { totalIters: ctx.iterations, power: config.discriminator.power });
    }
  }

  /** Its discriminators' input and objective, so restoreDiscriminators rebuilds them from a checkpoint alone. */
  checkpointInfo(): { discriminator: ProvidedDiscriminator } {
    return { discriminator: { input: this.input, objective: this.config.gan } };
  }

  /** The discriminator of a level ('main', or 'aux' when multi-level). */
  discriminator(level: 'main' | 'aux' = 'main'): FCDiscriminator {
    const d = this.modules[`d_${level}`];
    if (d === undefined) throw new Error(`no discriminator for the ${level} level (single-level run)`);
    return d;
  }

  async prepare(): Promise<Record<string, unknown> | null> {
    return null;
  }

  targetLoss(target: OutputLevels, _images: Tensor): TargetLossResult {
    const scalars: Record<string, number> = {};
    // The segmenter steps: the discriminators are frozen, so no gradient reaches them.
    for (const d of Object.values(this.modules)) d.requiresGrad_(false);
    const loss = torch.tidy(() => {
      let total: Tensor | null = null;
      for (const { name, logits } of selectLevels(target, Object.keys(this.modules).length > 1)) {
        const d = this.modules[`d_${name}`];
        // Fool D: the target predictions should be classified as source.
        const adv = ganLoss(d.forward(d.inputFromLogits(logits)), SOURCE_LABEL, this.config.gan);
        scalars[name === 'main' ? 'adv' : 'advAux'] = adv.item() as number;
        const term = adv.mul(this.weights[name]);
        total = total === null ? term : total.add(term);
      }
      return total;
    });
    return { loss, scalars };
  }

  updateAuxiliary(source: OutputLevels, target: OutputLevels, ctx: StepContext = PLAIN_STEP): Record<string, number> {
    const scalars: Record<string, number> = {};
    const multi = Object.keys(this.modules).length > 1;
    const src = selectLevels(source, multi);
    const tgt = selectLevels(target, multi);
    for (let i = 0; i < src.length; i++) {
      const name = src[i].name;
      const d = this.modules[`d_${name}`];
      d.requiresGrad_(true);
      // Detached: the discriminator's loss never reaches the segmenter.
      const s = src[i].logits;
      const t = tgt[i].logits;
      scalars[name === 'main' ? 'd' : 'dAux'] = ctx.updateAuxiliary(this.optimizers[`d_${name}`], () => {
        const lossSource = ganLoss(d.forward(d.inputFromLogits(s.detach())), SOURCE_LABEL, this.config.gan).div(2);
        const lossTarget = ganLoss(d.forward(d.inputFromLogits(t.detach())), TARGET_LABEL, this.config.gan).div(2);
        return lossSource.add(lossTarget);
      });
    }
    return scalars;
  }

  dispose(): void {
    for (const o of Object.values(this.optimizers)) o.dispose();
    for (const m of Object.values(this.modules)) m.dispose();
  }
}

/** ADVENT's MinEnt: minimise the normalised entropy of the target predictions. */
export class EntropyMethod implements AdaptationMethod {
  readonly kind = 'advent-entropy' as const;
  readonly modules = {};
  readonly optimizers = {};
  readonly schedulers = {};

  constructor(
    readonly config: EntropyConfig,
    private readonly multiLevel: boolean,
  ) {}

  async prepare(): Promise<Record<string, unknown> | null> {
    return null;
  }

  targetLoss(target: OutputLevels): TargetLossResult {
    const scalars: Record<string, number> = {};
    const loss = torch.tidy(() => {
      let total: Tensor | null = null;
      for (const { name, logits } of selectLevels(target, this.multiLevel)) {
        const ent = entropyLoss(logits);
        scalars[name === 'main' ? 'ent' : 'entAux'] = ent.item() as number;
        const term = ent.mul(name === 'main' ? this.config.lambdaEnt : this.config.lambdaEntAux);
        total = total === null ? term : total.add(term);
      }
      return total;
    });
    return { loss, scalars };
  }

  updateAuxiliary(): Record<string, number> {
    return {};
  }

  dispose(): void {}
}

/** Self-training on class-balanced, confidence-thresholded pseudo-labels from a frozen teacher. */
export class SelfTrainingMethod implements AdaptationMethod {
  readonly kind = 'self-training' as const;
  readonly modules: { pseudo: PseudoLabeler };
  readonly optimizers = {};
  readonly schedulers = {};
  private readonly model: SegmentationModel;

  constructor(
    readonly config: SelfTrainingConfig,
    private readonly ctx: MethodContext,
  ) {
    if (ctx.targetSet === undefined || ctx.targetLoader === undefined)
      throw new Error('self-training needs the target set (MethodContext.targetSet and targetLoader)');
    this.model = ctx.model;
    this.modules = { pseudo: new PseudoLabeler(ctx.model, { portion: config.portion, maxThreshold: config.maxThreshold }) };
  }

  get pseudoLabeler(): PseudoLabeler {
    return this.modules.pseudo;
  }

  /** Refreshes teacher and thresholds at iteration 0 and every `regenerateEvery` iterations. */
  async prepare(iteration: number): Promise<Record<string, unknown> | null> {
    const every = this.config.regenerateEvery;
    if (iteration !== 0 && (every === 0 || iteration % every !== 0)) return null;
    const thresholds = await this.modules.pseudo.refresh(this.model, this.ctx.targetSet!, this.ctx.targetLoader!);
    this.ctx.log?.(`pseudo-labels refreshed at iteration ${iteration}: thresholds ${thresholds.map((t) => t.toFixed(3)).join(' ')}`);
    return { event: 'pseudo-labels', thresholds };
  }

  targetLoss(target: OutputLevels, images: Tensor): TargetLossResult {
    const scalars: Record<string, number> = {};
    const loss = torch.tidy(() => {
      const labels = this.modules.pseudo.labels(images);
      scalars.pseudoCoverage = labels.ne(255).float().mean().item() as number;
      const ce = segmentationLoss(target, labels, this.ctx.auxWeight);
      scalars.pseudo = ce.item() as number;
      return ce.mul(this.config.lambdaPseudo);
    });
    return { loss, scalars };
  }

  updateAuxiliary(): Record<string, number> {
    return {};
  }

  dispose(): void {
    this.modules.pseudo.dispose();
  }
}

/** Whether a model (by its config) has auxiliary outputs in training mode. */
export function hasAuxOutput(model: SegmentationModel): boolean {
  return model.hasAuxOutput;
}

/** 'auto' levels resolved for a model. */
export function resolveLevels(config: AdaptMethodConfig, model: SegmentationModel): 'single' | 'multi' {
  if (config.levels === 'auto') return hasAuxOutput(model) ? 'multi' : 'single';
  if (config.levels === 'multi' && !hasAuxOutput(model)) {
    throw new Error(
      `adapt.levels 'multi' needs a model with an auxiliary output in training (deeplabv2 with multiLevel, or fcn/deeplabv3 with aux); ${model.config.kind} has none`,
    );
  }
  return config.levels;
}

/** Builds the method of a config, through its registry entry. */
export function createAdaptationMethod(config: AdaptMethodConfig, ctx: Omit<MethodContext, 'multiLevel'>): AdaptationMethod {
  return adaptMethodEntry(config).create(config, { ...ctx, multiLevel: resolveLevels(config, ctx.model) === 'multi' });
}
