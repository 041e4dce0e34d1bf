// Annotators: what turns a round's selected units into labels in the store.
//
// - SimulatedAnnotator reveals the pool's ground truth for exactly the selected units' pixels
//   (nothing else: the values written are read at those pixel indices only) in one transaction
//   that also marks the round annotated.
// - HumanAnnotator writes the round's queries (one per image and up to `unitsPerQuery` units) to
//   the store and waits, polling, until enough are answered through the store's query interface
//   (the annotation studio), then closes the round (unanswered queries are cancelled). Every step
//   is in the store, so a restarted run waits for the same queries.
import type { DatasetDescription } from '../data/dataset.js';
import { numClasses } from '../data/dataset.js';
import { Pipeline } from '../data/pipeline.js';
import { IMAGENET_NORMALIZE, type Transform } from '../data/transforms.js';
import type { LabelStore, NewQuery, QueryKind, QueryProgress, UnitLabels, UnitPixels } from '../labels/store.js';
import type { UnitConfig } from '../active/types.js';

export interface AnnotationRequest {
  run: string;
  round: number;
  /** The strategy's label and the checkpoint that scored the pool (provenance). */
  strategy: string;
  checkpoint: string | null;
  units: UnitConfig;
  /** The round's selection, with each unit's pixels. */
  selection: UnitPixels[];
}

export interface AnnotationResult {
  /** True when stopped by the signal before the round was annotated (run again to resume). */
  stopped: boolean;
  /** Units and pixels labelled in this round. */
  units: number;
  pixels: number;
  queries?: QueryProgress;
}

export interface AnnotateOptions {
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface Annotator {
  readonly name: string;
  /** Labels the round's selection into the store; returns once the round is annotated (or stopped). */
  annotate(store: LabelStore, request: AnnotationRequest, options?: AnnotateOptions): Promise<AnnotationResult>;
}

/** The ground-truth train ids of a pool image at the working resolution (row-major). */
export type GroundTruth = (image: number, imageId: string) => Promise<Uint8Array>;

/**
 * The pool's own labels as ground truth, through the pool's deterministic transforms (the resize
 * to the working resolution), as the loader would give them.
 */
export function poolGroundTruth(pool: DatasetDescription, transforms: readonly Transform[]): GroundTruth {
  const pipeline = new Pipeline({
    numClasses: numClasses(pool),
    mapping: pool.mapping,
    encoding: pool.encoding,
    onUndeclared: pool.onUndeclared,
    transforms: [...transforms],
    normalize: IMAGENET_NORMALIZE,
  });
  return async (image, imageId) => {
    const sample = pool.samples[image];
    if (sample === undefined || sample.id !== imageId) throw new Error(`ground truth: pool image ${image} is not '${imageId}'`);
    const result = await pipeline.run({ sample, seed: 0 });
    if (result.label === null) throw new Error(`ground truth: pool image '${imageId}' has no label (the simulated annotator needs the pool's labels)`);
    return result.label;
  };
}

export class SimulatedAnnotator implements Annotator {
  readonly name = 'simulated';

  constructor(private readonly groundTruth: GroundTruth) {}

  async annotate(store: LabelStore, request: AnnotationRequest, _options: AnnotateOptions = {}): Promise<AnnotationResult> {
    const state = store.round(request.run, request.round);
    if (state !== undefined && (state.phase === 'annotated' || state.phase === 'trained' || state.phase === 'evaluated')) {
      return { stopped: false, units: store.labelledUnits(request.run, { round: request.round }).length, pixels: 0 };
    }
    const gt = new Map<number, Uint8Array>();
    const labels: UnitLabels[] = [];
    let pixels = 0;
    for (const u of request.selection) {
      let truth = gt.get(u.image);
      if (truth === undefined) {
        truth = await this.groundTruth(u.image, u.imageId);
        gt.set(u.image, truth);
      }
      const values = new Uint8Array(u.pixelIndices.length);
      for (let i = 0; i < values.length; i++) {
        const p = u.pixelIndices[i];
        if (p >= truth.length) throw new RangeError(`simulated annotator: pixel ${p} of unit ${u.unit} is outside '${u.imageId}' (${truth.length} pixels)`);
        values[i] = truth[p];
      }
      labels.push({ imageId: u.imageId, unit: u.unit, pixelIndices: u.pixelIndices, values });
      pixels += values.length;
    }
    store.labelUnits(
      request.run,
      labels,
      { round: request.round, strategy: request.strategy, checkpoint: request.checkpoint, annotator: this.name, seconds: 0 },
      { completeRound: true },
    );
    return { stopped: false, units: labels.length, pixels };
  }
}

export interface HumanAnnotatorOptions {
  /** Fraction of the round's queries that must be answered before training (1 = all). */
  minFraction: number;
  pollSeconds: number;
  /** 'auto': pixel-paint for image units, region-class otherwise. */
  queryKind: 'auto' | QueryKind;
  unitsPerQuery: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The queries of a selection: per image, its units in chunks of `unitsPerQuery`. */
export function queriesFor(selection: UnitPixels[], kind: QueryKind, unitsPerQuery: number): NewQuery[] {
  const byImage = new Map<string, UnitPixels[]>();
  for (const u of selection) {
    const list = byImage.get(u.imageId) ?? [];
    list.push(u);
    byImage.set(u.imageId, list);
  }
  const out: NewQuery[] = [];
  for (const [imageId, list] of [...byImage].sort((a, b) => a[1][0].image - b[1][0].image)) {
    list.sort((a, b) => a.unit - b.unit);
    for (let i = 0; i < list.length; i += unitsPerQuery) {
      out.push({ imageId, kind, units: list.slice(i, i + unitsPerQuery).map((u) => ({ unit: u.unit, pixelIndices: u.pixelIndices })) });
    }
  }
  return out;
}

export class HumanAnnotator implements Annotator {
  readonly name = 'human';

  constructor(readonly options: HumanAnnotatorOptions) {
    if (!(options.minFraction > 0 && options.minFraction <= 1))
      throw new RangeError(`human annotator: minFraction must be in (0, 1], got ${options.minFraction}`);
    if (!(options.pollSeconds > 0)) throw new RangeError(`human annotator: pollSeconds must be > 0, got ${options.pollSeconds}`);
  }

  async annotate(store: LabelStore, request: AnnotationRequest, options: AnnotateOptions = {}): Promise<AnnotationResult> {
    const state = store.round(request.run, request.round);
    const done = () => ({
      stopped: false,
      units: store.labelledUnits(request.run, { round: request.round }).length,
      pixels: 0,
      queries: store.queryProgress(request.run, request.round),
    });
    if (state !== undefined && (state.phase === 'annotated' || state.phase === 'trained' || state.phase === 'evaluated')) return done();
    const kind: QueryKind = this.options.queryKind === 'auto' ? (request.units.kind === 'image' ? 'pixel-paint' : 'region-class') : this.options.queryKind;
    const queries = store.createQueries(request.run, request.round, queriesFor(request.selection, kind, this.options.unitsPerQuery), {
      strategy: request.strategy,
      checkpoint: request.checkpoint,
    });
    options.log?.(
      `${request.run} round ${request.round}: ${queries.length} queries in the label store ${store.file}; waiting for ${Math.ceil(this.options.minFraction * 100)}% of them to be answered (adaseg serve --run <output>)`,
    );
    let reported = -1;
    for (;;) {
      const progress = store.queryProgress(request.run, request.round);
      const needed = Math.ceil(this.options.minFraction * progress.total - 1e-9);
      if (progress.answered >= needed) {
        const final = store.closeRound(request.run, request.round, { minFraction: this.options.minFraction });
        options.log?.(`${request.run} round ${request.round}: ${final.answered}/${final.total} queries answered, ${final.cancelled} cancelled; training`);
        return { ...done(), queries: final };
      }
      if (progress.answered !== reported) {
        reported = progress.answered;
        options.log?.(
          `${request.run} round ${request.round}: ${progress.answered}/${progress.total} answered (${progress.leased} being answered), need ${needed}`,
        );
      }
      if (options.signal?.aborted) return { stopped: true, units: 0, pixels: 0, queries: progress };
      await sleep(this.options.pollSeconds * 1000, options.signal);
    }
  }
}
