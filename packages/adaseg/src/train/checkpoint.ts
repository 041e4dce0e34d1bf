// Checkpoints: model, optimiser, schedule, RNG state and iteration in one safetensors file, written
// to a temp file and renamed, so a crash never leaves a half-written checkpoint. The model's
// tensors keep PyTorch's names under `model.`, so a checkpoint is also a plain weights file.
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { AdasegError } from '../errors.js';
import { removeStaleTempFiles, writeFileAtomic } from '../util/atomic.js';

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
  /**
   * The metric the checkpoint was saved with (CheckpointManager.save's), so that a lost index can
   * find the best checkpoint again; absent when saved without one (and in older checkpoints).
   */
  metric?: number;
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
    if (info.metric !== undefined) meta.metric = info.metric;
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
    return infoOf(meta);
  });
}

function infoOf(meta: Record<string, any>): CheckpointInfo {
  return {
    iteration: meta.iteration as number,
    extra: (meta.extra ?? {}) as Record<string, unknown>,
    ...(typeof meta.metric === 'number' ? { metric: meta.metric } : {}),
  };
}

/** Only the info (iteration, extra, metric) of a checkpoint, without loading tensors. */
export function readCheckpointInfo(path: string): CheckpointInfo {
  return infoOf(readMeta(path, torch.readSafetensorsHeaderSync(path)));
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
  /**
   * Told what the manager repaired or could not use (an index rebuilt from the files, a checkpoint
   * file skipped as unreadable, stale temp files removed). Default: process.emitWarning.
   */
  onWarning?: (message: string) => void;
}

interface Index {
  latest: string | null;
  best: { file: string; metric: number; iteration: number } | null;
  files: string[];
}

/** A checkpoint file's name: `ckpt-<iteration, 7 digits>.safetensors`. */
const CHECKPOINT_FILE = /^ckpt-(\d+)\.safetensors$/;

const checkpointFile = (iteration: number): string => `ckpt-${String(iteration).padStart(7, '0')}.safetensors`;

/** Why a parsed checkpoints.json is not an index, or null when it is one. */
function indexProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const v = value as Record<string, unknown>;
  if (v.latest !== null && typeof v.latest !== 'string') return "'latest' is neither a file name nor null";
  if (!Array.isArray(v.files) || !v.files.every((f) => typeof f === 'string')) return "'files' is not a list of file names";
  const best = v.best as Record<string, unknown> | null;
  if (best !== null && (typeof best !== 'object' || typeof best.file !== 'string' || typeof best.metric !== 'number' || typeof best.iteration !== 'number')) {
    return "'best' is neither {file, metric, iteration} nor null";
  }
  return null;
}

/**
 * Keeps `ckpt-<iteration>.safetensors` files in a directory: the last N plus the best by a metric,
 * with an index (`checkpoints.json`, also replaced atomically) naming the latest and the best.
 * An index that is missing, unreadable or names a latest file that is gone is rebuilt from the
 * checkpoint files on disk (see rebuildIndex), with a warning: a damaged index never silently
 * restarts a run from iteration 0.
 */
export class CheckpointManager {
  private readonly keepLast: number;
  private readonly higherIsBetter: boolean;
  private readonly onWarning: (message: string) => void;
  /** Warnings already given (index() is read many times; each problem is told once). */
  private readonly warned = new Set<string>();

  constructor(
    readonly dir: string,
    options: CheckpointManagerOptions = {},
  ) {
    this.keepLast = options.keepLast ?? 2;
    this.higherIsBetter = options.higherIsBetter ?? true;
    this.onWarning = options.onWarning ?? ((message) => process.emitWarning(message, { code: 'ADASEG_CHECKPOINT' }));
    if (!Number.isInteger(this.keepLast) || this.keepLast < 1) throw new RangeError(`keepLast must be a positive integer, got ${this.keepLast}`);
  }

  private get indexPath(): string {
    return join(this.dir, 'checkpoints.json');
  }

  private warn(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.onWarning(message);
  }

  index(): Index {
    let problem: string;
    if (!existsSync(this.indexPath)) {
      problem = 'is missing';
    } else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(this.indexPath, 'utf8'));
        problem = indexProblem(parsed) ?? '';
      } catch (e) {
        problem = `cannot be read (${(e as Error).message})`;
      }
      if (problem === '') {
        const index = parsed as Index;
        if (index.latest === null || existsSync(join(this.dir, index.latest))) return index;
        problem = `names ${index.latest} as the latest checkpoint, which is missing`;
      } else {
        problem = problem.startsWith('cannot') ? problem : `is not a checkpoint index: ${problem}`;
      }
    }
    return this.rebuildIndex(problem);
  }

  /**
   * The index as the checkpoint files on disk give it: every whole checkpoint (its header and
   * metadata read and checked against the file's size; a truncated or unreadable one is skipped
   * with a warning), the newest of them the latest. The best is found again from the metric each
   * checkpoint records (CheckpointInfo.metric): the best of those that record one. Checkpoints
   * that record none (written before metrics were recorded, or saved without a metric such as on
   * a stop) cannot be ranked: if none records one, the index has no best (said in the warning),
   * and those older than the last N are left out of the index's files, so that the manager never
   * deletes what may have been the best weights (they stay on disk for the user to judge).
   * The rebuilt index is not written here (readers of a run must not change it); the next save
   * writes it.
   */
  private rebuildIndex(problem: string): Index {
    const empty: Index = { latest: null, best: null, files: [] };
    const names = existsSync(this.dir) ? readdirSync(this.dir).filter((f) => CHECKPOINT_FILE.test(f)) : [];
    const what = `${this.indexPath} ${problem}`;
    if (names.length === 0) {
      // A fresh run (no index, no checkpoints) is not a problem; a damaged index is.
      if (problem !== 'is missing') this.warn(`${what}; no checkpoint files beside it, so training starts from iteration 0`);
      return empty;
    }
    const whole: { file: string; iteration: number; metric?: number }[] = [];
    const skipped: string[] = [];
    for (const file of names) {
      try {
        const info = readCheckpointInfo(join(this.dir, file));
        if (!Number.isInteger(info.iteration) || info.iteration < 0) throw new Error(`iteration ${info.iteration} is not a non-negative integer`);
        whole.push({ file, iteration: info.iteration, ...(info.metric !== undefined && Number.isFinite(info.metric) ? { metric: info.metric } : {}) });
      } catch (e) {
        skipped.push(`${file} (${(e as Error).message})`);
      }
    }
    if (skipped.length > 0) this.warn(`${this.dir}: skipped unreadable checkpoint files: ${skipped.join('; ')}`);
    if (whole.length === 0) {
      this.warn(`${what}; no whole checkpoint file beside it, so training starts from iteration 0`);
      return empty;
    }
    whole.sort((a, b) => a.iteration - b.iteration || a.file.localeCompare(b.file));
    let best: Index['best'] = null;
    for (const c of whole) {
      if (c.metric === undefined) continue;
      if (best === null || (this.higherIsBetter ? c.metric > best.metric : c.metric < best.metric))
        best = { file: c.file, metric: c.metric, iteration: c.iteration };
    }
    const files = whole.filter((c, i) => c.metric !== undefined || i >= whole.length - this.keepLast).map((c) => c.file);
    const latest = whole[whole.length - 1];
    const bestNote =
      best !== null
        ? `the best is ${best.file} (metric ${best.metric}, recorded in the checkpoints)`
        : 'no checkpoint records its metric, so there is no best checkpoint until the next evaluation (older checkpoints are kept on disk, not pruned)';
    this.warn(
      `${what}; rebuilt from the ${whole.length} checkpoint file(s) on disk: the latest is ${latest.file} (iteration ${latest.iteration}); ${bestNote}`,
    );
    return { latest: latest.file, best, files };
  }

  private writeIndex(index: Index): void {
    writeFileAtomic(this.indexPath, JSON.stringify(index, null, 2));
  }

  /**
   * Removes the temp files of checkpoint and index writes that a killed process left behind
   * (`ckpt-<n>.safetensors.tmp-<pid>-<hex>`, `checkpoints.json.tmp-<pid>`), nothing else; called
   * when a run starts. Returns the names removed.
   */
  removeStaleTempFiles(): string[] {
    const removed = removeStaleTempFiles(this.dir, (target) => CHECKPOINT_FILE.test(target) || target === 'checkpoints.json');
    if (removed.length > 0) this.warn(`${this.dir}: removed ${removed.length} temp file(s) left by an interrupted checkpoint write: ${removed.join(', ')}`);
    return removed;
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
    const file = checkpointFile(info.iteration);
    const finite = metric !== undefined && Number.isFinite(metric);
    // Read before the new file exists: a first save must not take the missing index for a lost one.
    const index = this.index();
    saveCheckpoint(join(this.dir, file), parts, { ...info, ...(finite ? { metric } : {}) });
    index.files = [...index.files.filter((f) => f !== file), file];
    index.latest = file;
    if (finite) {
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
