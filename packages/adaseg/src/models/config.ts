// The model config: a discriminated union on `kind`, checked when a model is built (a plain object
// from JSON works: unknown keys, wrong types and out-of-range values are ModelConfigErrors naming
// the key). Every field but `kind` has a default; `resolveModelConfig` fills them in.
import { AdasegError, type ErrorInfo } from '../errors.js';
import type { SegmentationModel } from './base.js';
import { DeepLabV2, DeepLabV3, FCN } from './deeplab.js';
import { UNet } from './unet.js';

export type ModelKind = 'unet' | 'fcn' | 'deeplabv3' | 'deeplabv2';
export const MODEL_KINDS: readonly ModelKind[] = ['unet', 'fcn', 'deeplabv3', 'deeplabv2'];

export type BackboneName = 'resnet18' | 'resnet50' | 'resnet101';

interface CommonOptions {
  /**
   * Probability of a Dropout2d inserted just before the final classifier (0 = none, the default).
   * Active in training, and at inference after model.setMcDropout(true).
   */
  dropout?: number;
  /** Run in channels_last memory format (parameters and inputs). Default false. */
  channelsLast?: boolean;
  /** Input channels (default 3; torchvision weights need 3). */
  inChannels?: number;
}

export interface UNetConfig extends CommonOptions {
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

export interface FCNConfig extends CommonOptions {
  kind: 'fcn';
  /** Default 'resnet50' (torchvision's fcn_resnet50 keys); resnet101 matches fcn_resnet101. */
  backbone?: BackboneName;
  /** 8 (default, as torchvision), 16 or 32. */
  outputStride?: 8 | 16 | 32;
  /** FCNHead on layer3 (aux_classifier.*), its logits in `aux`. Default false. */
  aux?: boolean;
}

export interface DeepLabV3Config extends CommonOptions {
  kind: 'deeplabv3';
  /** Default 'resnet50' (deeplabv3_resnet50 keys); resnet101 matches deeplabv3_resnet101. */
  backbone?: BackboneName;
  /** 8 (default, as torchvision) or 16. */
  outputStride?: 8 | 16;
  /** FCNHead on layer3 (aux_classifier.*), its logits in `aux`. Default false. */
  aux?: boolean;
  /** ASPP rates: default [12, 24, 36] at output stride 8 (torchvision), [6, 12, 18] at 16. */
  atrousRates?: [number, number, number];
}

export interface DeepLabV2Config extends CommonOptions {
  kind: 'deeplabv2';
  /** Default 'resnet101' (as the literature); resnet50 for a lighter variant. */
  backbone?: 'resnet50' | 'resnet101';
  /** A second classifier on layer3 (layer5), its logits in `aux` (AdaptSegNet). Default true. */
  multiLevel?: boolean;
  /** Rates of the summed ASPP branches (default [6, 12, 18, 24]). */
  rates?: number[];
}

export type ModelConfig = UNetConfig | FCNConfig | DeepLabV3Config | DeepLabV2Config;

type Resolved<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };
export type ResolvedUNetConfig = Resolved<UNetConfig>;
export type ResolvedFCNConfig = Resolved<FCNConfig>;
export type ResolvedDeepLabV3Config = Resolved<DeepLabV3Config>;
export type ResolvedDeepLabV2Config = Resolved<DeepLabV2Config>;
export type ResolvedModelConfig = ResolvedUNetConfig | ResolvedFCNConfig | ResolvedDeepLabV3Config | ResolvedDeepLabV2Config;

/** adaseg's default model: U-Net, base width 16, depth 4, bilinear upsampling, BatchNorm (1.96M parameters). */
export const DEFAULT_MODEL_CONFIG: UNetConfig = { kind: 'unet' };

export class ModelConfigError extends AdasegError {
  /** The config key at fault, when there is one. */
  readonly key: string | undefined;
  constructor(message: string, key?: string) {
    super('config', message);
    this.name = 'ModelConfigError';
    this.key = key;
  }

  override toInfo(): ErrorInfo {
    return { ...super.toInfo(), ...(this.key !== undefined ? { key: this.key } : {}) };
  }
}

const COMMON_KEYS = ['kind', 'dropout', 'channelsLast', 'inChannels'] as const;
const KEYS: Record<ModelKind, readonly string[]> = {
  unet: [...COMMON_KEYS, 'baseWidth', 'depth', 'upsampling', 'batchNorm'],
  fcn: [...COMMON_KEYS, 'backbone', 'outputStride', 'aux'],
  deeplabv3: [...COMMON_KEYS, 'backbone', 'outputStride', 'aux', 'atrousRates'],
  deeplabv2: [...COMMON_KEYS, 'backbone', 'multiLevel', 'rates'],
};

function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

class Checker {
  constructor(private readonly kind: string, private readonly raw: Record<string, unknown>) {}

  private fail(key: string, expected: string): never {
    throw new ModelConfigError(`model config (${this.kind}): '${key}' must be ${expected}, got ${show(this.raw[key])}`, key);
  }

  int(key: string, fallback: number, min: number, max: number): number {
    const v = this.raw[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(key, `an integer in [${min}, ${max}]`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  oneOf<T extends string | number>(key: string, fallback: T, allowed: readonly T[]): T {
    const v = this.raw[key];
    if (v === undefined) return fallback;
    if (!allowed.includes(v as T)) this.fail(key, `one of ${allowed.map(show).join(', ')}`);
    return v as T;
  }

  probability(key: string): number {
    const v = this.raw[key];
    if (v === undefined) return 0;
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) this.fail(key, 'a probability in [0, 1)');
    return v;
  }

  rates(key: string, fallback: number[], length?: number): number[] {
    const v = this.raw[key];
    if (v === undefined) return fallback;
    const ok = Array.isArray(v) && v.length > 0 && (length === undefined || v.length === length) && v.every((r) => Number.isInteger(r) && r >= 1 && r <= 256);
    if (!ok) this.fail(key, `${length === undefined ? 'a non-empty list of' : `a list of ${length}`} integer rates in [1, 256]`);
    return [...(v as number[])];
  }
}

/** Checks a config (typed or from JSON) and fills in every default. */
export function resolveModelConfig(config: unknown = DEFAULT_MODEL_CONFIG): ResolvedModelConfig {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ModelConfigError(`model config must be an object with a 'kind' (${MODEL_KINDS.join(', ')}), got ${show(config)}`);
  }
  const raw = config as Record<string, unknown>;
  const kind = raw.kind;
  if (typeof kind !== 'string' || !(MODEL_KINDS as readonly string[]).includes(kind)) {
    throw new ModelConfigError(`model config: 'kind' must be one of ${MODEL_KINDS.map(show).join(', ')}, got ${show(kind)}`, 'kind');
  }
  const k = kind as ModelKind;
  for (const key of Object.keys(raw)) {
    if (!KEYS[k].includes(key)) {
      throw new ModelConfigError(`model config (${k}): unknown key '${key}' (known keys: ${KEYS[k].join(', ')})`, key);
    }
  }
  const c = new Checker(k, raw);
  const common = { dropout: c.probability('dropout'), channelsLast: c.bool('channelsLast', false), inChannels: c.int('inChannels', 3, 1, 4096) };
  const backbones: readonly BackboneName[] = ['resnet18', 'resnet50', 'resnet101'];
  switch (k) {
    case 'unet':
      return {
        kind: 'unet',
        baseWidth: c.int('baseWidth', 16, 1, 1024),
        depth: c.int('depth', 4, 1, 6),
        upsampling: c.oneOf('upsampling', 'bilinear', ['bilinear', 'transposed'] as const),
        batchNorm: c.bool('batchNorm', true),
        ...common,
      };
    case 'fcn':
      return {
        kind: 'fcn',
        backbone: c.oneOf('backbone', 'resnet50', backbones),
        outputStride: c.oneOf('outputStride', 8, [8, 16, 32] as const),
        aux: c.bool('aux', false),
        ...common,
      };
    case 'deeplabv3': {
      const outputStride = c.oneOf('outputStride', 8, [8, 16] as const);
      return {
        kind: 'deeplabv3',
        backbone: c.oneOf('backbone', 'resnet50', backbones),
        outputStride,
        aux: c.bool('aux', false),
        atrousRates: c.rates('atrousRates', outputStride === 8 ? [12, 24, 36] : [6, 12, 18], 3) as [number, number, number],
        ...common,
      };
    }
    case 'deeplabv2':
      return {
        kind: 'deeplabv2',
        backbone: c.oneOf('backbone', 'resnet101', ['resnet50', 'resnet101'] as const),
        multiLevel: c.bool('multiLevel', true),
        rates: c.rates('rates', [6, 12, 18, 24]),
        ...common,
      };
  }
}

export type ModelFor<C extends ModelConfig> = C extends UNetConfig
  ? UNet
  : C extends FCNConfig
    ? FCN
    : C extends DeepLabV3Config
      ? DeepLabV3
      : C extends DeepLabV2Config
        ? DeepLabV2
        : SegmentationModel;

/**
 * Builds a segmentation model with fresh (PyTorch-style random) weights. The config is checked
 * first (ModelConfigError on anything wrong); load trained or converted weights with loadWeights.
 */
export function buildModel<C extends ModelConfig>(config: C, numClasses: number): ModelFor<C>;
export function buildModel(config: ModelConfig | undefined, numClasses: number): SegmentationModel;
export function buildModel(config: ModelConfig = DEFAULT_MODEL_CONFIG, numClasses: number): SegmentationModel {
  if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 1) {
    throw new ModelConfigError(`buildModel: numClasses must be a positive integer, got ${show(numClasses)}`);
  }
  const resolved = resolveModelConfig(config);
  let model: SegmentationModel;
  switch (resolved.kind) {
    case 'unet':
      model = new UNet(resolved, numClasses);
      break;
    case 'fcn':
      model = new FCN(resolved, numClasses);
      break;
    case 'deeplabv3':
      model = new DeepLabV3(resolved, numClasses);
      break;
    case 'deeplabv2':
      model = new DeepLabV2(resolved, numClasses);
      break;
  }
  if (resolved.channelsLast) model.setChannelsLast(true);
  return model;
}

/** A one-line description, e.g. for logs: "deeplabv3 (resnet50, os 8, aux) 11 classes, 39.6M parameters". */
export function describeModel(model: SegmentationModel): string {
  const c = model.config;
  const parts: string[] = [];
  switch (c.kind) {
    case 'unet':
      parts.push(`base ${c.baseWidth}`, `depth ${c.depth}`, c.upsampling, ...(c.batchNorm ? [] : ['no BN']));
      break;
    case 'fcn':
    case 'deeplabv3':
      parts.push(c.backbone, `os ${c.outputStride}`, ...(c.aux ? ['aux'] : []));
      break;
    case 'deeplabv2':
      parts.push(c.backbone, ...(c.multiLevel ? ['multi-level'] : []));
      break;
  }
  if (c.dropout > 0) parts.push(`dropout ${c.dropout}`);
  if (c.channelsLast) parts.push('channels_last');
  return `${c.kind} (${parts.join(', ')}) ${model.numClasses} classes, ${(model.numParameters() / 1e6).toFixed(1)}M parameters`;
}
