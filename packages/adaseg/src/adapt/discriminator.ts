// The fully convolutional output-space discriminator of AdaptSegNet (also ADVENT's): five 4x4
// convolutions of stride 2 and padding 1, channels C → ndf → 2ndf → 4ndf → 8ndf → 1, LeakyReLU 0.2
// between them, no normalisation. It reads the segmenter's softmax (AdaptSegNet) or ADVENT's
// weighted self-information maps (AdvEnt), both at the input's resolution, and gives one logit per
// 32x32 patch: high = "looks like target". Module names are AdaptSegNet's (conv1..conv4,
// classifier), so its released discriminator weights load as they are.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as torch from '@adaseg/torch';
import { CheckpointManager, readCheckpointInfo } from '../train/checkpoint.js';
import { type GanObjective, selfInformation, selfInformationFromLogits } from '../train/losses.js';
import { type ProvidedDiscriminator, providedDiscriminator } from './registry.js';

const { nn } = torch;
const F = torch.functional;
type Tensor = torch.Tensor;

/** What the discriminator reads: class probabilities (AdaptSegNet) or self-information maps (AdvEnt). */
export type DiscriminatorInput = 'probabilities' | 'self-information';

export interface DiscriminatorOptions {
  /** Channels of its input: the number of classes. */
  inChannels: number;
  /** Width of the first layer (default 64). */
  ndf?: number;
  /** What it reads (default 'probabilities'). */
  input?: DiscriminatorInput;
  /** How its outputs are trained, which decides how targetness reads them (default 'vanilla'). */
  objective?: GanObjective;
}

/** Input sizes below this give an empty output (five halvings). */
export const DISCRIMINATOR_MIN_SIZE = 32;

export class FCDiscriminator extends torch.nn.Module {
  readonly conv1: torch.nn.Conv2d;
  readonly conv2: torch.nn.Conv2d;
  readonly conv3: torch.nn.Conv2d;
  readonly conv4: torch.nn.Conv2d;
  readonly classifier: torch.nn.Conv2d;
  readonly inChannels: number;
  readonly ndf: number;
  readonly input: DiscriminatorInput;
  readonly objective: GanObjective;

  constructor(options: DiscriminatorOptions) {
    super();
    const { inChannels } = options;
    const ndf = options.ndf ?? 64;
    if (!Number.isInteger(inChannels) || inChannels < 1) throw new RangeError(`FCDiscriminator: inChannels must be a positive integer, got ${inChannels}`);
    if (!Number.isInteger(ndf) || ndf < 1) throw new RangeError(`FCDiscriminator: ndf must be a positive integer, got ${ndf}`);
    this.inChannels = inChannels;
    this.ndf = ndf;
    this.input = options.input ?? 'probabilities';
    this.objective = options.objective ?? 'vanilla';
    const conv = (cin: number, cout: number) => new nn.Conv2d({ inChannels: cin, outChannels: cout, kernelSize: 4, stride: 2, padding: 1 });
    this.conv1 = this.registerModule('conv1', conv(inChannels, ndf));
    this.conv2 = this.registerModule('conv2', conv(ndf, ndf * 2));
    this.conv3 = this.registerModule('conv3', conv(ndf * 2, ndf * 4));
    this.conv4 = this.registerModule('conv4', conv(ndf * 4, ndf * 8));
    this.classifier = this.registerModule('classifier', conv(ndf * 8, 1));
  }

  /** Logits [N, 1, h, w] (h = H/32 rounded down through five halvings) of a [N, C, H, W] map. */
  forward(x: Tensor): Tensor {
    if (x === null || typeof x !== 'object' || (x as { isTensor?: unknown }).isTensor !== true || x.ndim !== 4 || x.shape[1] !== this.inChannels) {
      throw new TypeError(
        `FCDiscriminator.forward: expected [N, ${this.inChannels}, H, W]${x && (x as Tensor).shape ? `, got [${(x as Tensor).shape.join(', ')}]` : ''}`,
      );
    }
    const [h, w] = [x.shape[2], x.shape[3]];
    if (h < DISCRIMINATOR_MIN_SIZE || w < DISCRIMINATOR_MIN_SIZE) {
      throw new RangeError(
        `FCDiscriminator.forward: inputs must be at least ${DISCRIMINATOR_MIN_SIZE}x${DISCRIMINATOR_MIN_SIZE} (five stride-2 convolutions), got ${w}x${h} (W x H)`,
      );
    }
    return torch.tidy(() => {
      let y = this.conv1.forward(x).leakyRelu(0.2);
      y = this.conv2.forward(y).leakyRelu(0.2);
      y = this.conv3.forward(y).leakyRelu(0.2);
      y = this.conv4.forward(y).leakyRelu(0.2);
      return this.classifier.forward(y);
    });
  }

  /** Its input built from segmentation logits [N, C, H, W] (gradients flow through). */
  inputFromLogits(logits: Tensor): Tensor {
    return this.input === 'self-information' ? selfInformationFromLogits(logits) : torch.tidy(() => logits.softmax(1));
  }

  /** Its input built from class probabilities [N, C, H, W]. */
  inputFromProbabilities(probs: Tensor): Tensor {
    return this.input === 'self-information' ? selfInformation(probs) : probs;
  }

  protected override extraRepr(): string {
    return `in ${this.inChannels}, ndf ${this.ndf}, ${this.input}, ${this.objective}`;
  }
}

/**
 * The discriminator's per-pixel "target-ness" of class probabilities [N, C, H, W] (the softmax of
 * a segmentation output): its logits upsampled bilinearly to H x W, then the sigmoid; for a
 * least-squares discriminator its outputs clamped to [0, 1]. Returns [N, H, W] in [0, 1], high
 * where the prediction looks like the target domain (target = 1). For selection strategies (AADA).
 * Runs in inference mode.
 */
export function targetness(discriminator: FCDiscriminator, probs: Tensor): Tensor {
  if (probs === null || typeof probs !== 'object' || (probs as { isTensor?: unknown }).isTensor !== true || probs.ndim !== 4) {
    throw new TypeError('targetness: expected class probabilities [N, C, H, W]');
  }
  const [height, width] = [probs.shape[2], probs.shape[3]];
  return torch.inferenceMode(() =>
    torch.tidy(() => {
      const out = discriminator.forward(discriminator.inputFromProbabilities(probs));
      const up = F.interpolate(out, { size: [height, width], mode: 'bilinear', alignCorners: false });
      return (discriminator.objective === 'ls' ? up.clamp(0, 1) : up.sigmoid()).squeeze(1);
    }),
  );
}

export interface RestoredDiscriminators {
  /** The discriminator of the main output. */
  main: FCDiscriminator;
  /** The auxiliary output's, for multi-level runs. */
  aux?: FCDiscriminator;
  checkpoint: string;
}

/**
 * The discriminators of an adversarial `adaseg adapt` run, from its run directory (best checkpoint,
 * else latest) or one of its checkpoints. Their input kind and objective come from the run's
 * config.json; sizes from the tensors.
 */
/** A discriminator description as checkpoints record it, or null when it is not one. */
function recordedDiscriminator(value: unknown): ProvidedDiscriminator | null {
  const v = value as Partial<ProvidedDiscriminator> | undefined;
  if (v === undefined || v === null || typeof v !== 'object') return null;
  if ((v.input !== 'probabilities' && v.input !== 'self-information') || (v.objective !== 'vanilla' && v.objective !== 'ls')) return null;
  return { input: v.input, objective: v.objective };
}

export function restoreDiscriminators(path: string): RestoredDiscriminators {
  if (!existsSync(path)) throw new Error(`restoreDiscriminators: ${path} does not exist`);
  let file = path;
  if (statSync(path).isDirectory()) {
    const manager = new CheckpointManager(join(path, 'checkpoints'));
    const found = manager.best() ?? manager.latest();
    if (found === null) throw new Error(`restoreDiscriminators: run directory ${path} has no checkpoint`);
    file = found;
  }
  // What the checkpoint records (since issue 21); else the run's config.json (older checkpoints).
  let provided = recordedDiscriminator(readCheckpointInfo(file).extra.discriminator);
  for (const dir of provided === null ? [dirname(file), dirname(dirname(file))] : []) {
    const p = join(dir, 'config.json');
    if (existsSync(p)) {
      provided = providedDiscriminator((JSON.parse(readFileSync(p, 'utf8')) as { adapt?: { method: string } }).adapt);
      break;
    }
  }
  if (provided === null) {
    throw new Error(
      `restoreDiscriminators: ${file} is not from an adversarial adaptation run (it records no discriminator, and no config.json with adapt.method 'adaptsegnet' or 'advent-adversarial' is beside it)`,
    );
  }
  const { input, objective } = provided;
  const all = torch.loadSafetensorsSync(file);
  try {
    const build = (name: string): FCDiscriminator | undefined => {
      const prefix = `modules.${name}.`;
      const entries = Object.entries(all).filter(([k]) => k.startsWith(prefix));
      if (entries.length === 0) return undefined;
      const sd = Object.fromEntries(entries.map(([k, t]) => [k.slice(prefix.length), t]));
      const w = sd['conv1.weight'];
      if (w === undefined) throw new Error(`restoreDiscriminators: ${file} has no ${prefix}conv1.weight`);
      const d = new FCDiscriminator({ inChannels: w.shape[1], ndf: w.shape[0], input, objective });
      d.loadStateDict(sd);
      return d;
    };
    const main = build('d_main');
    if (main === undefined) throw new Error(`restoreDiscriminators: ${file} holds no discriminator (modules.d_main.*)`);
    const aux = build('d_aux');
    return { main, ...(aux ? { aux } : {}), checkpoint: file };
  } finally {
    torch.dispose(all);
  }
}
