// What every segmentation model of adaseg shares: one output shape, dropout points usable at
// inference (MC dropout), channels_last, frozen BatchNorm and backbone/head parameter groups.
import * as torch from '@adaseg/torch';
import type { ResolvedModelConfig } from './config.js';

const { nn } = torch;
type Tensor = torch.Tensor;

export interface SegmentationOutput {
  /** Class scores [N, C, H, W] at the input's resolution (before softmax). */
  logits: Tensor;
  /**
   * The decoder's features just before the classifier [N, D, h, w] at the decoder's own
   * resolution (full resolution for U-Net, output stride 8/16 for the ResNet models), taken before
   * any dropout point, so they do not change with MC dropout. For diversity and anchor strategies.
   */
  features: Tensor;
  /** Auxiliary logits [N, C, H, W] (FCN/DeepLabV3 aux head on layer3, DeepLabV2's layer3 head). */
  aux?: Tensor[];
}

export interface ForwardOptions {
  /** Compute the auxiliary outputs (when the model has them). Default: in training mode only. */
  aux?: boolean;
}

export interface ParameterGroups {
  /** The encoder: ResNet backbone, or U-Net's encoder path. Usually trained at the base LR. */
  backbone: Tensor[];
  /** Everything else: decoder, heads and classifiers (often trained at 10x LR). */
  head: Tensor[];
}

export type DropoutLayer = torch.nn.Dropout | torch.nn.Dropout2d;

export abstract class SegmentationModel extends torch.nn.Module {
  /** The resolved configuration the model was built from (all defaults filled in). */
  abstract readonly config: ResolvedModelConfig;
  abstract readonly numClasses: number;
  /** Channels of `features`. */
  abstract readonly featureChannels: number;
  private channelsLastMode = false;

  abstract override forward(x: Tensor, options?: ForwardOptions): SegmentationOutput;

  /**
   * Whether forward gives auxiliary logits (`aux`) in training: an FCN/DeepLabV3 aux head, or
   * DeepLabV2's multi-level layer3 classifier. Multi-level adaptation needs one.
   */
  abstract get hasAuxOutput(): boolean;

  /** The modules that form the backbone (for parameterGroups and freezeBatchNorm('backbone')). */
  protected abstract backboneModules(): torch.nn.Module[];

  get inChannels(): number {
    return this.config.inChannels;
  }

  get isChannelsLast(): boolean {
    return this.channelsLastMode;
  }

  /**
   * Puts parameters and buffers in channels_last (or back), and makes forward convert inputs to
   * it. Replaces the parameter tensors: call before building an optimiser.
   */
  setChannelsLast(on = true): this {
    this.to({ memoryFormat: on ? 'channels_last' : 'contiguous' });
    this.channelsLastMode = on;
    return this;
  }

  /** Checks an input batch and puts it in the model's memory format. */
  protected prepareInput(x: Tensor): Tensor {
    if (x === null || typeof x !== 'object' || (x as { isTensor?: unknown }).isTensor !== true) {
      throw new TypeError(`${this.constructor.name}.forward: expected an input Tensor [N, ${this.inChannels}, H, W]`);
    }
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`${this.constructor.name}.forward: expected an input of shape [N, ${this.inChannels}, H, W], got [${x.shape.join(', ')}]`);
    }
    if (this.channelsLastMode && !x.isContiguous('channels_last')) return x.contiguous('channels_last');
    return x;
  }

  /** Every Dropout / Dropout2d layer of the model (built-in head dropouts and the `dropout` point). */
  dropoutLayers(): DropoutLayer[] {
    return this.modules().filter((m): m is DropoutLayer => m instanceof nn.Dropout || m instanceof nn.Dropout2d);
  }

  /**
   * MC dropout: keep every dropout layer active in eval mode (BatchNorm stays in eval mode).
   * Throws when turning it on for a model without dropout layers with p > 0.
   */
  setMcDropout(on: boolean): this {
    const layers = this.dropoutLayers();
    if (on && !layers.some((l) => l.p > 0)) {
      throw new Error(`${this.constructor.name}.setMcDropout: the model has no dropout layer with p > 0; build it with { dropout: p } (0 < p < 1)`);
    }
    for (const l of layers) l.mcDropout = on;
    return this;
  }

  get mcDropout(): boolean {
    return this.dropoutLayers().some((l) => l.mcDropout);
  }

  /**
   * Freezes BatchNorm layers (of the backbone or of the whole model): running statistics in
   * training mode too, no statistic updates, no gradients for their weight and bias.
   */
  freezeBatchNorm(scope: 'all' | 'backbone' = 'all', frozen = true): this {
    const roots = scope === 'all' ? [this] : this.backboneModules();
    for (const root of roots) for (const m of root.modules()) if (m instanceof nn.BatchNorm2d) m.freeze(frozen);
    return this;
  }

  /** Parameters split into backbone and head (each parameter once), for per-group learning rates. */
  parameterGroups(): ParameterGroups {
    const backbone = new Set<Tensor>();
    for (const m of this.backboneModules()) for (const p of m.parameters()) backbone.add(p);
    const all = this.parameters();
    return { backbone: all.filter((p) => backbone.has(p)), head: all.filter((p) => !backbone.has(p)) };
  }
}

/** Bilinear resize of [N, C, h, w] to [H, W] (align_corners false, as torchvision's models). */
export function upsampleTo(x: Tensor, height: number, width: number): Tensor {
  if (x.shape[2] === height && x.shape[3] === width) return x;
  return torch.functional.interpolate(x, { size: [height, width], mode: 'bilinear', alignCorners: false });
}
