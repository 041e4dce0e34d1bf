// Adaptation methods behind one interface. An iteration (adaptationStep) is the same for all:
//
//   1. source batch: segmentation loss (main + auxWeight x aux), backward;
//   2. labelled target batch, when there is one (active rounds): the same, weighted, backward;
//   3. target batch: forward, then the method's target loss (adversarial, entropy or pseudo-label
//      cross-entropy) with its auxiliary networks frozen, backward;
//   4. the method updates its auxiliary networks (the discriminators) from the detached source and
//      target predictions;
//   then the caller steps the segmenter's optimiser. Losses are backpropagated phase by phase (as
//   AdaptSegNet and ADVENT do) so only one forward graph is alive at a time.
import * as torch from '@adaseg/torch';
import type { DatasetDescription } from '../data/dataset.js';
import type { LoaderOptions } from '../data/loader.js';
import type { SegmentationModel, SegmentationOutput } from '../models/base.js';
import type { LrScheduler } from '../train/trainer.js';
import type { AdaptMethodConfig, AdversarialConfig, EntropyConfig, SelfTrainingConfig } from './config.js';
import { FCDiscriminator } from './discriminator.js';
import { entropyLoss, ganLoss, maskedCrossEntropy, SOURCE_LABEL, TARGET_LABEL } from './losses.js';
import { PseudoLabeler } from './pseudo-labels.js';

type Tensor = torch.Tensor;

/** A model's outputs by level: the main logits and the auxiliary ones (each [N, C, H, W]). */
export interface OutputLevels {
  main: Tensor;
  aux: Tensor[];
}

export interface LabelledBatch {
  /** [B, 3, H, W]. */
  images: Tensor;
  /** [B, H, W] int64, 255 = ignore. */
  labels: Tensor;
}

export interface AdaptationBatches {
  source: LabelledBatch;
  /** Unlabelled: only the images are used. */
  target: { images: Tensor };
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
   * of the source and target batches. Must not send gradients into the segmenter.
   */
  updateAuxiliary(source: OutputLevels, target: OutputLevels): Record<string, number>;
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

export function levelsOf(out: SegmentationOutput): OutputLevels {
  return { main: out.logits, aux: out.aux ?? [] };
}

function detachLevels(l: OutputLevels): OutputLevels {
  return { main: l.main.detach(), aux: l.aux.map((a) => a.detach()) };
}

/** Cross-entropy of the main output plus auxWeight times each auxiliary output's (per-class weighted when given). */
export function segmentationLoss(levels: OutputLevels, labels: Tensor, auxWeight: number, classWeight: Tensor | null = null): Tensor {
  return torch.tidy(() => {
    let loss = maskedCrossEntropy(levels.main, labels, 255, classWeight);
    if (auxWeight > 0) for (const aux of levels.aux) loss = loss.add(maskedCrossEntropy(aux, labels, 255, classWeight).mul(auxWeight));
    return loss;
  });
}

/**
 * One adaptation iteration up to (not including) the segmenter optimiser's step: the caller zeroes
 * the segmenter's gradients before and steps its optimiser after. Returns the scalars to log.
 */
export function adaptationStep(model: SegmentationModel, method: AdaptationMethod, batches: AdaptationBatches, options: StepOptions): Record<string, number> {
  const scalars: Record<string, number> = {};
  const source = torch.tidy(() => {
    const levels = levelsOf(model.forward(batches.source.images));
    const loss = segmentationLoss(levels, batches.source.labels, options.auxWeight, options.classWeight ?? null);
    loss.backward();
    scalars.seg = loss.item() as number;
    return detachLevels(levels);
  });
  try {
    if (batches.labelledTarget !== undefined && options.labelledTargetWeight > 0) {
      const lt = batches.labelledTarget;
      torch.tidy(() => {
        const loss = segmentationLoss(levelsOf(model.forward(lt.images)), lt.labels, options.auxWeight, options.classWeight ?? null);
        loss.mul(options.labelledTargetWeight).backward();
        scalars.segTarget = loss.item() as number;
      });
    }
    const target = torch.tidy(() => {
      const levels = levelsOf(model.forward(batches.target.images));
      const result = method.targetLoss(levels, batches.target.images);
      if (result.loss !== null) result.loss.backward();
      Object.assign(scalars, result.scalars);
      return detachLevels(levels);
    });
    try {
      Object.assign(scalars, method.updateAuxiliary(source, target));
    } finally {
      torch.dispose(target);
    }
  } finally {
    torch.dispose(source);
  }
  return scalars;
}

/** The levels a method works on: main alone, or [aux, main] (the first auxiliary output). */
function selectLevels(levels: OutputLevels, multi: boolean): { name: 'main' | 'aux'; logits: Tensor }[] {
  if (!multi) return [{ name: 'main', logits: levels.main }];
  if (levels.aux.length === 0) throw new Error("multi-level adaptation needs a model with an auxiliary output in training (e.g. deeplabv2 with multiLevel); use levels: 'single'");
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

  constructor(readonly config: AdversarialConfig, ctx: MethodContext) {
    this.kind = config.method;
    const levels = ctx.multiLevel ? ['aux', 'main'] : ['main'];
    this.weights = { main: config.lambdaAdv, aux: config.lambdaAdvAux };
    for (const level of levels) {
      const d = new FCDiscriminator({
        inChannels: ctx.model.numClasses,
        ndf: config.discriminator.ndf,
        input: config.method === 'advent-adversarial' ? 'self-information' : 'probabilities',
        objective: config.gan,
      });
      const opt = new torch.optim.Adam(d.parameters(), { lr: config.discriminator.lr, betas: config.discriminator.betas });
      const name = `d_${level}`;
      this.modules[name] = d;
      this.optimizers[name] = opt;
      this.schedulers[name] = new torch.optim.PolynomialLR(opt, { totalIters: ctx.iterations, power: config.discriminator.power });
    }
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

  updateAuxiliary(source: OutputLevels, target: OutputLevels): Record<string, number> {
    const scalars: Record<string, number> = {};
    const multi = Object.keys(this.modules).length > 1;
    const src = selectLevels(source, multi);
    const tgt = selectLevels(target, multi);
    for (let i = 0; i < src.length; i++) {
      const name = src[i].name;
      const d = this.modules[`d_${name}`];
      const opt = this.optimizers[`d_${name}`];
      d.requiresGrad_(true);
      opt.zeroGrad();
      const value = torch.tidy(() => {
        // Detached: the discriminator's loss never reaches the segmenter.
        const s = src[i].logits.detach();
        const t = tgt[i].logits.detach();
        const lossSource = ganLoss(d.forward(d.inputFromLogits(s)), SOURCE_LABEL, this.config.gan).div(2);
        const lossTarget = ganLoss(d.forward(d.inputFromLogits(t)), TARGET_LABEL, this.config.gan).div(2);
        const loss = lossSource.add(lossTarget);
        loss.backward();
        return loss.item() as number;
      });
      opt.step();
      scalars[name === 'main' ? 'd' : 'dAux'] = value;
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
    if (ctx.targetSet === undefined || ctx.targetLoader === undefined) throw new Error('self-training needs the target set (MethodContext.targetSet and targetLoader)');
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
    throw new Error(`adapt.levels 'multi' needs a model with an auxiliary output in training (deeplabv2 with multiLevel, or fcn/deeplabv3 with aux); ${model.config.kind} has none`);
  }
  return config.levels;
}

/** Builds the method of a config: the only place that looks at its kind. */
export function createAdaptationMethod(config: AdaptMethodConfig, ctx: Omit<MethodContext, 'multiLevel'>): AdaptationMethod {
  const full: MethodContext = { ...ctx, multiLevel: resolveLevels(config, ctx.model) === 'multi' };
  switch (config.method) {
    case 'adaptsegnet':
    case 'advent-adversarial':
      return new AdversarialMethod(config, full);
    case 'advent-entropy':
      return new EntropyMethod(config, full.multiLevel);
    case 'self-training':
      return new SelfTrainingMethod(config, full);
  }
}
