// The model config: a discriminated union on `kind`, checked when a model is built (a plain object
// from JSON works: unknown keys, wrong types and out-of-range values are ModelConfigErrors naming
// the key). Every field but `kind` has a default; `resolveModelConfig` fills them in. The union is
// derived from the model registry (MODELS): each model file exports its kind's entry { kind, keys,
// parse, create, describe }, and the code here is generic over the entries.
import { AdasegError, type ErrorInfo } from '../errors.js';
import type { SegmentationModel } from './base.js';
import { deeplabv2Model, deeplabv3Model, fcnModel } from './deeplab.js';
import { unetModel } from './unet.js';

export type { UNetConfig, ResolvedUNetConfig } from './unet.js';
export type { FCNConfig, DeepLabV3Config, DeepLabV2Config, ResolvedFCNConfig, ResolvedDeepLabV3Config, ResolvedDeepLabV2Config } from './deeplab.js';

export type BackboneName = 'resnet18' | 'resnet50' | 'resnet101';

/** The options every model kind has. */
export interface ModelCommonOptions {
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

/** A config with every default filled in. */
export type Resolved<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };

/** A model kind: how its own options are read, the model built and described. */
export interface ModelEntry<C extends { kind: string }, M = SegmentationModel> {
  /** The config's `kind` value. */
  readonly kind: C['kind'];
  /** The kind's own config keys (besides kind, dropout, channelsLast, inChannels). */
  readonly keys: readonly string[];
  /** Reads the kind's own options with their defaults (the common ones are read before). */
  parse(c: Checker): Omit<Resolved<C>, 'kind' | keyof ModelCommonOptions>;
  /** The model with fresh weights. */
  create(config: Resolved<C>, numClasses: number): M;
  /** describeModel's parts for the kind's own options, e.g. ['resnet50', 'os 8', 'aux']. */
  describe(config: Resolved<C>): string[];
}

/** Every model kind, in the order error messages list them. */
export const MODELS = [unetModel, fcnModel, deeplabv3Model, deeplabv2Model] as const;

type Entry = (typeof MODELS)[number];
type ConfigOf<E> = E extends ModelEntry<infer C, unknown> ? C : never;

export type ModelConfig = ConfigOf<Entry>;
export type ModelKind = ModelConfig['kind'];
export const MODEL_KINDS: readonly ModelKind[] = MODELS.map((m) => m.kind);
export type ResolvedModelConfig = { [K in ModelKind]: Resolved<Extract<ModelConfig, { kind: K }>> }[ModelKind];

/** The entries as generic code sees them (each is typed by its own config: this is the one cast). */
const ENTRIES = MODELS as readonly ModelEntry<{ kind: string }, SegmentationModel>[] as readonly ModelEntry<ModelConfig, SegmentationModel>[];

function entryOf(kind: string): ModelEntry<ModelConfig, SegmentationModel> {
  return ENTRIES.find((m) => m.kind === kind)!;
}

/** adaseg's default model: U-Net, base width 16, depth 4, bilinear upsampling, BatchNorm (1.96M parameters). */
export const DEFAULT_MODEL_CONFIG: ModelConfig = { kind: 'unet' };

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

function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Typed reads of a model config's keys; errors are ModelConfigErrors naming the key. */
export class Checker {
  constructor(
    private readonly kind: string,
    private readonly raw: Record<string, unknown>,
  ) {}

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
  const entry = entryOf(kind);
  const keys = [...COMMON_KEYS, ...entry.keys];
  for (const key of Object.keys(raw)) {
    if (!keys.includes(key)) {
      throw new ModelConfigError(`model config (${kind}): unknown key '${key}' (known keys: ${keys.join(', ')})`, key);
    }
  }
  const c = new Checker(kind, raw);
  const common = { dropout: c.probability('dropout'), channelsLast: c.bool('channelsLast', false), inChannels: c.int('inChannels', 3, 1, 4096) };
  return { kind, ...entry.parse(c), ...common } as ResolvedModelConfig;
}

export type ModelFor<C extends ModelConfig> = ReturnType<Extract<Entry, { kind: C['kind'] }>['create']>;

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
  const model = entryOf(resolved.kind).create(resolved, numClasses);
  if (resolved.channelsLast) model.setChannelsLast(true);
  return model;
}

/** A one-line description, e.g. for logs: "deeplabv3 (resnet50, os 8, aux) 11 classes, 39.6M parameters". */
export function describeModel(model: SegmentationModel): string {
  const c = model.config;
  const parts = entryOf(c.kind).describe(c);
  if (c.dropout > 0) parts.push(`dropout ${c.dropout}`);
  if (c.channelsLast) parts.push('channels_last');
  return `${c.kind} (${parts.join(', ')}) ${model.numClasses} classes, ${(model.numParameters() / 1e6).toFixed(1)}M parameters`;
}
