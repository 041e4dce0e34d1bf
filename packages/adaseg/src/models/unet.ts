// U-Net, adaseg's CPU-friendly default model. Level i has width baseWidth * 2^i (i = 0..depth);
// each level is a double 3x3 conv block (conv-BN-ReLU twice). The decoder brings level i+1 up to
// level i's size (bilinear interpolation to the skip's exact size, or a stride-2 transposed conv
// padded to it), concatenates [upsampled, skip] and runs a double conv block down to width_i.
//
// Keys: encoders.{i}.{0..5} (i = 0..depth), decoders.{i}.conv.{0..5} and, with transposed
// upsampling, decoders.{i}.up (i = 0..depth-1, decoders.0 is the last, full-resolution one),
// classifier (1x1 conv). Without BatchNorm the blocks are conv(bias)-ReLU twice: {0..3}.
// With depth 3, baseWidth 32 and bilinear upsampling it is the encoder-decoder of
// packages/torch/bench/nn.ts. scripts/model_peer.py holds the same network in PyTorch.
import * as torch from '@adaseg/torch';
import { SegmentationModel, type ForwardOptions, type SegmentationOutput } from './base.js';
import type { Checker, ModelCommonOptions, ModelEntry, Resolved } from './config.js';

const { nn } = torch;
const F = torch.functional;
type Tensor = torch.Tensor;

export interface UNetConfig extends ModelCommonOptions {
  kind: 'unet';
  /** Width of the first level (default 16, CPU-sized); level i has baseWidth * 2^i channels. */
  baseWidth?: number;
  /** Number of down-sampling steps, 1..6 (default 4). */
  depth?: number;
  /** Decoder upsampling (default 'bilinear'). */
  upsampling?: 'bilinear' | 'transposed';
  /** BatchNorm after every conv (default true); without it the convs have biases. */
  batchNorm?: boolean;
}

export type ResolvedUNetConfig = Resolved<UNetConfig>;

/** conv3x3 [BN] ReLU, twice. */
export function doubleConv(inChannels: number, outChannels: number, batchNorm = true): torch.nn.Sequential {
  const layers: torch.nn.Layer[] = [];
  for (const [cin, cout] of [
    [inChannels, outChannels],
    [outChannels, outChannels],
  ]) {
    layers.push(new nn.Conv2d({ inChannels: cin, outChannels: cout, kernelSize: 3, padding: 1, bias: !batchNorm }));
    if (batchNorm) layers.push(new nn.BatchNorm2d({ numFeatures: cout }));
    layers.push(new nn.ReLU({ inplace: true }));
  }
  return new nn.Sequential(...layers);
}

/** One decoder step: upsample the deeper map to the skip's size, concatenate, double conv. */
export class UNetUp extends torch.nn.Module {
  readonly up: torch.nn.ConvTranspose2d | null;
  readonly conv: torch.nn.Sequential;

  constructor(deepChannels: number, skipChannels: number, upsampling: 'bilinear' | 'transposed', batchNorm: boolean) {
    super();
    if (upsampling === 'transposed') {
      this.up = this.registerModule('up', new nn.ConvTranspose2d({ inChannels: deepChannels, outChannels: skipChannels, kernelSize: 2, stride: 2 }));
      this.conv = this.registerModule('conv', doubleConv(2 * skipChannels, skipChannels, batchNorm));
    } else {
      this.up = null;
      this.conv = this.registerModule('conv', doubleConv(deepChannels + skipChannels, skipChannels, batchNorm));
    }
  }

  forward(deep: Tensor, skip: Tensor): Tensor {
    return torch.tidy(() => {
      const [h, w] = [skip.shape[2], skip.shape[3]];
      let up: Tensor;
      if (this.up === null) {
        up = F.interpolate(deep, { size: [h, w], mode: 'bilinear', alignCorners: false });
      } else {
        up = this.up.forward(deep);
        const dh = h - up.shape[2];
        const dw = w - up.shape[3];
        // Odd sizes: pad the 2x map to the skip's size (as the common PyTorch U-Net does).
        if (dh !== 0 || dw !== 0) up = F.pad(up, [Math.floor(dw / 2), dw - Math.floor(dw / 2), Math.floor(dh / 2), dh - Math.floor(dh / 2)]);
      }
      const cat = torch.cat([up, skip], 1);
      up.dispose();
      return this.conv.forward(cat);
    });
  }
}

export class UNet extends SegmentationModel {
  readonly encoders: torch.nn.ModuleList<torch.nn.Sequential>;
  readonly decoders: torch.nn.ModuleList<UNetUp>;
  readonly dropout: torch.nn.Dropout2d | null;
  readonly classifier: torch.nn.Conv2d;
  readonly featureChannels: number;
  /** Widths of levels 0..depth. */
  readonly widths: number[];

  constructor(
    readonly config: ResolvedUNetConfig,
    readonly numClasses: number,
  ) {
    super();
    const { baseWidth, depth, upsampling, batchNorm, inChannels } = config;
    this.widths = Array.from({ length: depth + 1 }, (_, i) => baseWidth * 2 ** i);
    const w = this.widths;
    this.encoders = this.registerModule('encoders', new nn.ModuleList(w.map((c, i) => doubleConv(i === 0 ? inChannels : w[i - 1], c, batchNorm))));
    this.decoders = this.registerModule('decoders', new nn.ModuleList(w.slice(0, depth).map((c, i) => new UNetUp(w[i + 1], c, upsampling, batchNorm))));
    this.dropout = this.registerModule('dropout', config.dropout > 0 ? new nn.Dropout2d({ p: config.dropout }) : null);
    this.classifier = this.registerModule('classifier', new nn.Conv2d({ inChannels: w[0], outChannels: numClasses, kernelSize: 1 }));
    this.featureChannels = w[0];
  }

  protected backboneModules(): torch.nn.Module[] {
    return [this.encoders];
  }

  get hasAuxOutput(): boolean {
    return false;
  }

  /** U-Net has no auxiliary output; options are accepted for a uniform call. */
  forward(x: Tensor, _options: ForwardOptions = {}): SegmentationOutput {
    return torch.tidy(() => {
      const input = this.prepareInput(x);
      const depth = this.config.depth;
      const min = 2 ** depth;
      if (input.shape[2] < min || input.shape[3] < min) {
        throw new Error(`UNet.forward: a U-Net of depth ${depth} needs inputs of at least ${min}x${min}, got ${input.shape[3]}x${input.shape[2]} (W x H)`);
      }
      const skips: Tensor[] = [];
      let y = this.encoders.at(0).forward(input);
      for (let i = 1; i <= depth; i++) {
        skips.push(y);
        const pooled = F.maxPool2d(y, 2);
        y = this.encoders.at(i).forward(pooled);
        pooled.dispose();
      }
      for (let i = depth - 1; i >= 0; i--) {
        const skip = skips[i];
        const next = this.decoders.at(i).forward(y, skip);
        y.dispose();
        skip.dispose();
        y = next;
      }
      const features = y;
      const logits = this.classifier.forward(this.dropout === null ? features : this.dropout.forward(features));
      return { logits, features };
    });
  }
}

export const unetModel: ModelEntry<UNetConfig, UNet> = {
  kind: 'unet',
  keys: ['baseWidth', 'depth', 'upsampling', 'batchNorm'],
  parse: (c: Checker) => ({
    baseWidth: c.int('baseWidth', 16, 1, 1024),
    depth: c.int('depth', 4, 1, 6),
    upsampling: c.oneOf('upsampling', 'bilinear', ['bilinear', 'transposed'] as const),
    batchNorm: c.bool('batchNorm', true),
  }),
  create: (config, numClasses) => new UNet(config, numClasses),
  describe: (c) => [`base ${c.baseWidth}`, `depth ${c.depth}`, c.upsampling, ...(c.batchNorm ? [] : ['no BN'])],
};
