// The DataLoader: batches of [B,3,H,W] float32 images and [B,H,W] int64 labels, shuffled per
// epoch from a seed, decoded and augmented in worker threads with prefetch, optionally from an
// in-memory cache of decoded samples. Tensors are made on the main thread when a batch is handed
// out, so they join the caller's scope; the caller owns them (batch.dispose()).
import { availableParallelism, endianness } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as torch from '@adaseg/torch';
import { IGNORE_INDEX } from './classes.js';
import type { DatasetDescription } from './dataset.js';
import { numClasses } from './dataset.js';
import { DataError, type DataErrorInfo } from './errors.js';
import { type Decoded, decodedBytes, Pipeline, type PipelineSpec, type SampleResult, type SampleTask } from './pipeline.js';
import { hashSeed, Rng } from './rng.js';
import { IMAGENET_NORMALIZE, type Normalize, parseNormalize, parseTransforms, type Transform } from './transforms.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker.js';

export interface LoaderOptions {
  batchSize: number;
  /** Reshuffle the samples every epoch (default false). */
  shuffle?: boolean;
  /** Drop the last, smaller batch of an epoch (default false). */
  dropLast?: boolean;
  /** Seed of the order and of every augmentation (default 0). */
  seed?: number;
  /** Worker threads decoding and augmenting; 0 does it on the main thread (default 2, at most the cores). */
  workers?: number;
  /** Batches prepared ahead of the one being consumed (default 2). */
  prefetch?: number;
  transforms?: Transform[];
  /** Normalisation of images (default ImageNet mean/std). */
  normalize?: Normalize;
  /** Keep decoded samples in memory (shared with the workers): true, or a byte budget. */
  cache?: boolean | { maxBytes: number };
  /** Called once per file with problems that did not stop loading (undeclared values under 'warn'). */
  onProblem?: (problem: DataErrorInfo) => void;
}

export interface Batch {
  /** [B, 3, H, W] float32, normalised. */
  images: torch.Tensor;
  /** [B, H, W] int64 train ids, 255 = ignore. */
  labels: torch.Tensor;
  /** Sample ids, and their indices in the dataset's sample list. */
  ids: string[];
  indices: number[];
  /** False for samples without a label (their label is all ignore). */
  labelled: boolean[];
  epoch: number;
  /** Batch index within the epoch. */
  step: number;
  /** Frees both tensors (idempotent). */
  dispose(): void;
}

interface BatchPlan {
  epoch: number;
  step: number;
  indices: number[];
  seeds: number[];
}

const DEFAULT_CACHE_BYTES = 2 * 1024 ** 3;

function checkOptions(o: LoaderOptions): void {
  const int = (name: string, v: unknown, min: number) => {
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min)) {
      throw new DataError('bad-config', `DataLoader: ${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    }
  };
  if (o === null || typeof o !== 'object') throw new DataError('bad-config', 'DataLoader: options must be an object with at least batchSize');
  int('batchSize', o.batchSize, 1);
  if (o.batchSize === undefined) throw new DataError('bad-config', 'DataLoader: batchSize is required');
  int('workers', o.workers, 0);
  int('prefetch', o.prefetch, 0);
  int('seed', o.seed, 0);
  if (o.cache !== undefined && typeof o.cache !== 'boolean') {
    const m = (o.cache as { maxBytes?: unknown }).maxBytes;
    if (typeof m !== 'number' || !(m >= 0))
      throw new DataError('bad-config', `DataLoader: cache must be a boolean or { maxBytes }, got ${JSON.stringify(o.cache)}`);
  }
}

// ---- running tasks ----

interface Runner {
  run(task: SampleTask, owner: object): Promise<SampleResult>;
  /** Drops queued (not started) tasks of an owner; their promises reject with 'closed'. */
  drop(owner: object): void;
  close(): Promise<void>;
}

class InlineRunner implements Runner {
  constructor(private readonly pipeline: Pipeline) {}
  run(task: SampleTask): Promise<SampleResult> {
    return this.pipeline.run(task);
  }
  drop(): void {}
  async close(): Promise<void> {}
}

interface Pending {
  id: number;
  task: SampleTask;
  owner: object;
  resolve: (r: SampleResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  inflight: Map<number, Pending>;
}

/**
 * Starts the worker module that sits next to this one: worker.js when compiled; worker.ts when
 * running from sources under tsx, through a bootstrap that registers tsx in the worker first
 * (Node 20 does not apply `--import tsx` in execArgv to a worker's entry module).
 */
function startWorker(workerData: unknown): Worker {
  const here = import.meta.url;
  // No inherited execArgv: the parent's flags (e.g. --input-type, --test) can break a worker.
  if (!here.endsWith('.ts')) return new Worker(new URL('./worker.js', here), { workerData, execArgv: [] });
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', here).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData, execArgv: [] });
}

class WorkerRunner implements Runner {
  private readonly slots: (Slot | null)[];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  /** Tasks one worker takes at once: one decoding (in sharp's threads) while one augments. */
  private readonly perWorker = 2;

  constructor(
    count: number,
    private readonly init: WorkerInit,
  ) {
    this.slots = new Array<Slot | null>(count).fill(null);
  }

  private spawn(i: number): Slot {
    const worker = startWorker({ adasegDataWorker: true, init: this.init });
    const slot: Slot = { worker, inflight: new Map() };
    worker.unref();
    worker.on('message', (msg: FromWorker) => {
      const p = slot.inflight.get(msg.id);
      if (p === undefined) return;
      slot.inflight.delete(msg.id);
      if (slot.inflight.size === 0) worker.unref();
      if (msg.type === 'result') p.resolve(msg.result);
      else p.reject(DataError.fromInfo(msg.error));
      this.pump();
    });
    const fail = (err: Error) => {
      if (this.slots[i] === slot) this.slots[i] = null;
      for (const p of slot.inflight.values()) p.reject(err);
      slot.inflight.clear();
      this.pump();
    };
    worker.on('error', (err) => fail(new DataError('worker', `data worker failed: ${err.stack ?? err.message}`, { cause: err })));
    worker.on('exit', (code) => {
      if (!this.closed) fail(new DataError('worker', `data worker exited (code ${code})`));
    });
    this.slots[i] = slot;
    return slot;
  }

  run(task: SampleTask, owner: object): Promise<SampleResult> {
    if (this.closed) return Promise.reject(new DataError('closed', 'the DataLoader is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, owner, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      // The least busy worker with room, spawning workers as needed.
      let best = -1;
      let load = this.perWorker;
      for (let i = 0; i < this.slots.length; i++) {
        const n = this.slots[i]?.inflight.size ?? 0;
        if (n < load) {
          best = i;
          load = n;
        }
      }
      if (best < 0) return;
      const slot = this.slots[best] ?? this.spawn(best);
      const p = this.queue.shift()!;
      slot.inflight.set(p.id, p);
      slot.worker.ref();
      slot.worker.postMessage({ type: 'task', id: p.id, task: p.task } satisfies ToWorker);
    }
  }

  drop(owner: object): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (this.queue[i].owner === owner) {
        const [p] = this.queue.splice(i, 1);
        p.reject(new DataError('closed', 'batch abandoned'));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = new DataError('closed', 'the DataLoader was closed');
    for (const p of this.queue.splice(0)) p.reject(err);
    const exits: Promise<number>[] = [];
    for (const slot of this.slots) {
      if (slot === null) continue;
      for (const p of slot.inflight.values()) p.reject(err);
      slot.inflight.clear();
      exits.push(slot.worker.terminate());
    }
    this.slots.fill(null);
    await Promise.all(exits);
  }
}

// ---- the loader ----

export class DataLoader implements AsyncIterable<Batch> {
  readonly dataset: DatasetDescription;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  readonly workers: number;
  readonly prefetch: number;
  /** Problems reported so far (one per file and kind). */
  readonly problems: DataErrorInfo[] = [];
  private readonly runner: Runner;
  private readonly cache: Map<number, Decoded> | null;
  private readonly cacheBudget: number;
  private cacheBytes = 0;
  private nextEpoch = 0;
  private closed = false;
  private readonly seenProblems = new Set<string>();
  private readonly onProblem?: (p: DataErrorInfo) => void;

  constructor(dataset: DatasetDescription, options: LoaderOptions) {
    checkOptions(options);
    if (dataset.samples.length === 0) {
      throw new DataError('empty-split', `dataset ${dataset.name} (split ${dataset.split}) has no samples`);
    }
    this.dataset = dataset;
    this.batchSize = options.batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.seed = options.seed ?? 0;
    this.workers = options.workers ?? Math.min(2, availableParallelism());
    this.prefetch = options.prefetch ?? 2;
    this.onProblem = options.onProblem;
    if (this.length === 0) {
      throw new DataError(
        'empty-split',
        `dataset ${dataset.name} (split ${dataset.split}) has ${dataset.samples.length} samples: no full batch of ${this.batchSize} (dropLast)`,
      );
    }
    const spec: PipelineSpec = {
      numClasses: numClasses(dataset),
      mapping: dataset.mapping,
      encoding: dataset.encoding,
      onUndeclared: dataset.onUndeclared,
      transforms: options.transforms === undefined ? [] : parseTransforms(options.transforms, 'DataLoader: transforms'),
      normalize: options.normalize === undefined ? IMAGENET_NORMALIZE : parseNormalize(options.normalize, 'DataLoader: normalize'),
    };
    this.runner = this.workers === 0 ? new InlineRunner(new Pipeline(spec)) : new WorkerRunner(this.workers, { spec, sharpConcurrency: 1 });
    const cache = options.cache ?? false;
    this.cache = cache === false ? null : new Map();
    this.cacheBudget = cache === false ? 0 : cache === true ? DEFAULT_CACHE_BYTES : cache.maxBytes;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.samples.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Bytes of decoded samples held by the cache. */
  get cachedBytes(): number {
    return this.cacheBytes;
  }

  /** The sample order of an epoch (a permutation when shuffling). */
  order(epoch: number): number[] {
    const order = Array.from(this.dataset.samples, (_, i) => i);
    return this.shuffle ? new Rng(hashSeed(this.seed, epoch, 0x5eed)).shuffle(order) : order;
  }

  private *plans(epoch: number): Generator<BatchPlan> {
    const order = this.order(epoch);
    for (let step = 0; step < this.length; step++) {
      const indices = order.slice(step * this.batchSize, (step + 1) * this.batchSize);
      const seeds = indices.map((_, j) => hashSeed(this.seed, epoch, step * this.batchSize + j));
      yield { epoch, step, indices, seeds };
    }
  }

  /**
   * One epoch of batches. Without an argument, the epoch after the last one started (0 first).
   * Breaking out of the loop is fine; close() the loader when done with it.
   */
  epoch(epoch?: number): AsyncGenerator<Batch> {
    const e = epoch ?? this.nextEpoch;
    this.nextEpoch = e + 1;
    return this.stream(this.plans(e));
  }

  /**
   * Batches forever, epoch after epoch, for iteration-based training. `fromBatch` skips that many
   * batches of the stream without decoding them, so a resumed run sees exactly the batches (order
   * and augmentation) that the interrupted run would have seen next.
   */
  batches(fromBatch = 0): AsyncGenerator<Batch> {
    if (!Number.isInteger(fromBatch) || fromBatch < 0)
      throw new DataError('bad-config', `DataLoader.batches: fromBatch must be a non-negative integer, got ${fromBatch}`);
    const self = this;
    function* all(): Generator<BatchPlan> {
      let skip = fromBatch;
      for (;;) {
        const e = self.nextEpoch++;
        for (const plan of self.plans(e)) {
          if (skip > 0) {
            skip--;
            continue;
          }
          yield plan;
        }
      }
    }
    return this.stream(all());
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.epoch();
  }

  private runPlan(plan: BatchPlan, owner: object): Promise<SampleResult[]> {
    return Promise.all(
      plan.indices.map(async (index, j) => {
        const sample = this.dataset.samples[index];
        const cached = this.cache?.get(index);
        const wantCache = this.cache !== null && cached === undefined && this.cacheBytes < this.cacheBudget;
        const result = await this.runner.run({ sample, seed: plan.seeds[j], cached, wantCache }, owner);
        if (result.decoded !== undefined && this.cache !== null && !this.cache.has(index)) {
          const bytes = decodedBytes(result.decoded);
          if (this.cacheBytes + bytes <= this.cacheBudget) {
            this.cache.set(index, result.decoded);
            this.cacheBytes += bytes;
          }
        }
        for (const p of result.problems) this.report(p);
        return result;
      }),
    );
  }

  private report(p: DataErrorInfo): void {
    const key = `${p.code}\0${p.file ?? ''}`;
    if (this.seenProblems.has(key)) return;
    this.seenProblems.add(key);
    this.problems.push(p);
    if (this.onProblem) this.onProblem(p);
    else process.emitWarning(p.message, { code: 'ADASEG_DATA' });
  }

  private async *stream(plans: Iterator<BatchPlan>): AsyncGenerator<Batch> {
    if (this.closed) throw new DataError('closed', 'the DataLoader is closed');
    const owner = {};
    const queue: { plan: BatchPlan; results: Promise<SampleResult[]> }[] = [];
    const fill = () => {
      while (queue.length < this.prefetch + 1) {
        const next = plans.next();
        if (next.done) return;
        const results = this.runPlan(next.value, owner);
        results.catch(() => {}); // consumed (and rethrown) when its turn comes
        queue.push({ plan: next.value, results });
      }
    };
    try {
      for (;;) {
        fill();
        const head = queue.shift();
        if (head === undefined) return;
        const results = await head.results;
        if (this.closed) throw new DataError('closed', 'the DataLoader was closed');
        yield this.assemble(head.plan, results);
      }
    } finally {
      this.runner.drop(owner);
    }
  }

  private assemble(plan: BatchPlan, results: SampleResult[]): Batch {
    const { width, height } = results[0];
    for (let j = 1; j < results.length; j++) {
      if (results[j].width !== width || results[j].height !== height) {
        const a = this.dataset.samples[plan.indices[0]].id;
        const b = this.dataset.samples[plan.indices[j]].id;
        throw new DataError(
          'size-mismatch',
          `a batch needs samples of one size, got ${a} ${width}x${height} and ${b} ${results[j].width}x${results[j].height}: add a resize or crop transform, or use batchSize 1`,
        );
      }
    }
    const B = results.length;
    const plane = width * height;
    const images = new Float32Array(B * 3 * plane);
    const labels = new BigInt64Array(B * plane);
    const labelled: boolean[] = [];
    const words = endianness() === 'LE' ? new Int32Array(labels.buffer) : null;
    results.forEach((r, j) => {
      images.set(r.image, j * 3 * plane);
      labelled.push(r.label !== null);
      const base = j * plane;
      if (words !== null) {
        // int64 little-endian: the low word holds the id, the high word stays 0.
        if (r.label === null) for (let i = 0; i < plane; i++) words[(base + i) * 2] = IGNORE_INDEX;
        else for (let i = 0; i < plane; i++) words[(base + i) * 2] = r.label[i];
      } else {
        for (let i = 0; i < plane; i++) labels[base + i] = BigInt(r.label === null ? IGNORE_INDEX : r.label[i]);
      }
    });
    const imageTensor = torch.tensor(images, { shape: [B, 3, height, width] });
    let labelTensor: torch.Tensor;
    try {
      labelTensor = torch.tensor(labels, { shape: [B, height, width] });
    } catch (err) {
      imageTensor.dispose();
      throw err;
    }
    return {
      images: imageTensor,
      labels: labelTensor,
      ids: plan.indices.map((i) => this.dataset.samples[i].id),
      indices: plan.indices,
      labelled,
      epoch: plan.epoch,
      step: plan.step,
      dispose() {
        imageTensor.dispose();
        labelTensor.dispose();
      },
    };
  }

  /** Stops the workers and drops pending work; iterators still running end with a 'closed' error. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.runner.close();
    this.cache?.clear();
    this.cacheBytes = 0;
  }
}
