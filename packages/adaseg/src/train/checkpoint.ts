// Checkpoints: model, optimiser, schedule, RNG state and iteration in one safetensors file, written
// to a temp file and renamed, so a crash never leaves a half-written checkpoint. The model's
// tensors keep PyTorch's names under `model.`, so a checkpoint is also a plain weights file.
import { existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { AdasegError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';

const FORMAT = 'adaseg-checkpoint/1';

export interface Schedulable {
  stateDict(): unknown;
  loadStateDict(sd: any): void;
}

export interface CheckpointParts {
  model: torch.nn.Module;
  optimizer?: torch.optim.Optimizer<any>;
  scheduler?: Schedulable;
  /** Extra modules saved beside the model (e.g. a discriminator), under `modules.<name>.`. */
  modules?: Record<string, torch.nn.Module>;
  /** Extra optimisers (e.g. the discriminator's). */
  optimizers?: Record<string, torch.optim.Optimizer<any>>;
}

export interface CheckpointInfo {
  iteration: number;
  /** JSON-serialisable state of the caller (config, best metric, data position, ...). */
  extra: Record<string, unknown>;
}

export class CheckpointError extends AdasegError {
  declare readonly file: string;
  constructor(file: string, message: string) {
    super('checkpoint', `checkpoint ${file}: ${message}`, { file });
    this.name = 'CheckpointError';
  }
}

export function saveCheckpoint(path: string, parts: CheckpointParts, info: CheckpointInfo): void {
  torch.tidy(() => {
    const tensors: Record<string, torch.Tensor> = {};
    const meta: Record<string, unknown> = { format: FORMAT, iteration: info.iteration, extra: info.extra, savedAt: new Date().toISOString() };
    for (const [k, t] of Object.entries(parts.model.stateDict())) tensors[`model.${k}`] = t;
    for (const [name, m] of Object.entries(parts.modules ?? {})) {
      for (const [k, t] of Object.entries(m.stateDict())) tensors[`modules.${name}.${k}`] = t;
    }
    const optimizers: Record<string, torch.optim.Optimizer<any>> = { ...(parts.optimizer ? { main: parts.optimizer } : {}), ...(parts.optimizers ?? {}) };
    const optimizerMeta: Record<string, unknown> = {};
    for (const [name, opt] of Object.entries(optimizers)) {
      const flat = torch.optim.flattenOptimizerState(opt.stateDict());
      for (const [k, t] of Object.entries(flat.tensors)) tensors[`optim.${name}.${k}`] = t;
      optimizerMeta[name] = flat.meta;
    }
    meta.optimizers = optimizerMeta;
    if (parts.scheduler) meta.scheduler = parts.scheduler.stateDict();
    tensors.rng_state = torch.getRngState();
    torch.saveSafetensorsSync(path, tensors, { adaseg: JSON.stringify(meta) });
  });
}

function readMeta(path: string, header: torch.SafetensorsHeader): Record<string, any> {
  const raw = header.metadata?.adaseg;
  if (raw === undefined) throw new CheckpointError(path, 'not an adaseg checkpoint (no adaseg metadata); to load plain weights use loadWeights');
  const meta = JSON.parse(raw) as Record<string, any>;
  if (meta.format !== FORMAT) throw new CheckpointError(path, `unknown format '${meta.format}', expected ${FORMAT}`);
  return meta;
}

/** Restores every part given (strictly: every key must match) and the RNG state. */
export function loadCheckpoint(path: string, parts: CheckpointParts): CheckpointInfo {
  if (!existsSync(path)) throw new CheckpointError(path, 'file not found');
  const header = torch.readSafetensorsHeaderSync(path);
  const meta = readMeta(path, header);
  return torch.tidy(() => {
    const all = torch.loadSafetensorsSync(path);
    const prefixed = (prefix: string) =>
      Object.fromEntries(
        Object.entries(all)
          .filter(([k]) => k.startsWith(prefix))
          .map(([k, t]) => [k.slice(prefix.length), t]),
      );
    try {
      parts.model.loadStateDict(prefixed('model.'));
      for (const [name, m] of Object.entries(parts.modules ?? {})) m.loadStateDict(prefixed(`modules.${name}.`));
      const optimizers: Record<string, torch.optim.Optimizer<any>> = { ...(parts.optimizer ? { main: parts.optimizer } : {}), ...(parts.optimizers ?? {}) };
      for (const [name, opt] of Object.entries(optimizers)) {
        const optMeta = meta.optimizers?.[name];
        if (optMeta === undefined) throw new CheckpointError(path, `holds no state for optimiser '${name}'`);
        opt.loadStateDict(torch.optim.unflattenOptimizerState(prefixed(`optim.${name}.`), optMeta));
      }
      if (parts.scheduler) {
        if (meta.scheduler === undefined) throw new CheckpointError(path, 'holds no learning-rate schedule state');
        parts.scheduler.loadStateDict(meta.scheduler);
      }
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      throw new CheckpointError(path, (e as Error).message);
    }
    if (all.rng_state) torch.setRngState(all.rng_state);
    return { iteration: meta.iteration as number, extra: (meta.extra ?? {}) as Record<string, unknown> };
  });
}

/** Only the info (iteration, extra) of a checkpoint, without loading tensors. */
export function readCheckpointInfo(path: string): CheckpointInfo {
  const meta = readMeta(path, torch.readSafetensorsHeaderSync(path));
  return { iteration: meta.iteration as number, extra: (meta.extra ?? {}) as Record<string, unknown> };
}

/** The model's weights from a checkpoint or a plain safetensors weights file, by PyTorch name. */
export function loadModelWeights(path: string): Record<string, torch.Tensor> {
  const all = torch.loadSafetensorsSync(path);
  const header = torch.readSafetensorsHeaderSync(path);
  if (header.metadata?.adaseg === undefined) return all;
  const out: Record<string, torch.Tensor> = {};
  for (const [k, t] of Object.entries(all)) {
    if (k.startsWith('model.')) out[k.slice('model.'.length)] = t;
    else t.dispose();
  }
  return out;
}

export interface CheckpointManagerOptions {
  /** How many of the most recent checkpoints to keep. Default 2. */
  keepLast?: number;
  /** Larger is better for the tracked metric (e.g. mIoU). Default true. */
  higherIsBetter?: boolean;
}

interface Index {
  latest: string | null;
  best: { file: string; metric: number; iteration: number } | null;
  files: string[];
}

/**
 * Keeps `ckpt-<iteration>.safetensors` files in a directory: the last N plus the best by a metric,
 * with an index (`checkpoints.json`, also replaced atomically) naming the latest and the best.
 */
export class CheckpointManager {
  private readonly keepLast: number;
  private readonly higherIsBetter: boolean;

  constructor(
    readonly dir: string,
    options: CheckpointManagerOptions = {},
  ) {
    this.keepLast = options.keepLast ?? 2;
    this.higherIsBetter = options.higherIsBetter ?? true;
    if (!Number.isInteger(this.keepLast) || this.keepLast < 1) throw new RangeError(`keepLast must be a positive integer, got ${this.keepLast}`);
  }

  private get indexPath(): string {
    return join(this.dir, 'checkpoints.json');
  }

  index(): Index {
    const empty: Index = { latest: null, best: null, files: [] };
    if (!existsSync(this.indexPath)) return empty;
    try {
      return JSON.parse(readFileSync(this.indexPath, 'utf8')) as Index;
    } catch {
      return empty;
    }
  }

  private writeIndex(index: Index): void {
    writeFileAtomic(this.indexPath, JSON.stringify(index, null, 2));
  }

  /** Path of the latest checkpoint, or null. */
  latest(): string | null {
    const latest = this.index().latest;
    return latest !== null && existsSync(join(this.dir, latest)) ? join(this.dir, latest) : null;
  }

  best(): string | null {
    const best = this.index().best;
    return best !== null && existsSync(join(this.dir, best.file)) ? join(this.dir, best.file) : null;
  }

  save(parts: CheckpointParts, info: CheckpointInfo, metric?: number): string {
    mkdirSync(this.dir, { recursive: true });
    const file = `ckpt-${String(info.iteration).padStart(7, '0')}.safetensors`;
    saveCheckpoint(join(this.dir, file), parts, info);
    const index = this.index();
    index.files = [...index.files.filter((f) => f !== file), file];
    index.latest = file;
    if (metric !== undefined && Number.isFinite(metric)) {
      const better = index.best === null || (this.higherIsBetter ? metric > index.best.metric : metric < index.best.metric);
      if (better) index.best = { file, metric, iteration: info.iteration };
    }
    const keep = new Set(index.files.slice(-this.keepLast));
    if (index.best) keep.add(index.best.file);
    const removed = index.files.filter((f) => !keep.has(f));
    index.files = index.files.filter((f) => keep.has(f));
    // The index is written before old files go, so it never names a file that is missing.
    this.writeIndex(index);
    for (const f of removed) {
      try {
        unlinkSync(join(this.dir, f));
      } catch {
        // already gone
      }
    }
    return join(this.dir, file);
  }
}
