// The experiment's results (results.json): per strategy, mIoU against the labelled-pixel percentage
// round by round (mean and spread over seeds), per-class IoU, the area under the budget curve,
// and the labels saved versus random to reach random's final mIoU; the baselines (source-only,
// UDA-only, fully supervised target, random) beside them. Pure functions of the raw per-seed
// numbers the loop gathers, so they can be checked by hand.
//
// Beside the standard mIoU, the mIoU over the classes that occur in the validation labels: a class
// absent there (fence in camvid-day2dusk's target_val) scores 0 for a model that predicts it on a
// single pixel and is left out for one that never does, which moves the standard mIoU by 1/C of
// the scale on a stray pixel and weighs against class-balanced training.
import type { BudgetConfig, UnitConfig } from '../active/types.js';

export interface EvalSummary {
  checkpoint: string;
  mIoU: number;
  pixelAccuracy: number;
  iou: (number | null)[];
  classNames: string[];
}

export interface RawRound {
  /** 0: the start model (before any label); 1..R: after round r's training. */
  round: number;
  /** Pool pixels of the labelled units (void included: what the budget counts). */
  coveredPixels: number;
  /** Of which carry a class (not void). */
  labelledPixels: number;
  units: number;
  /** coveredPixels / pool pixels x 100. */
  percent: number;
  mIoU: number;
  iou: (number | null)[];
}

export interface RawRun {
  strategy: string;
  seed: number;
  rounds: RawRound[];
}

export interface RawBaselines {
  seed: number;
  sourceOnly?: EvalSummary;
  udaOnly?: EvalSummary;
  full?: EvalSummary;
}

export interface ExampleImage {
  strategy: string;
  seed: number;
  imageId: string;
  width: number;
  height: number;
  coveredPixels: number;
  rounds: number[];
  /** data: URIs: the image with the selected units drawn over it (colour = round), and its partial mask. */
  image: string;
  mask: string;
}

/** What an experiment was run on and with: the same in the raw numbers and in results.json. */
export interface ExperimentSetup {
  name: string;
  classNames: string[];
  poolImages: number;
  poolPixels: number;
  seeds: number[];
  rounds: number;
  budget: BudgetConfig;
  units: UnitConfig;
  /** Training iterations of the active pipeline after source training (the full baseline's too). */
  pipelineIterations: number;
  /**
   * Per class: whether the validation labels have a pixel of it (at the evaluation resolution);
   * absent in results made before it was counted.
   */
  classesInVal?: boolean[];
}

export interface RawExperiment extends ExperimentSetup {
  strategies: string[];
  runs: RawRun[];
  baselines: RawBaselines[];
  examples: ExampleImage[];
}

/** Mean, sample standard deviation (0 for one value), min and max. */
export interface Stat {
  mean: number;
  std: number;
  min: number;
  max: number;
  n: number;
}

export interface CurvePoint {
  round: number;
  /** Labelled pixels, % of the pool (void included). */
  percent: Stat;
  mIoU: Stat;
  /** mIoU over the classes in the validation labels (with classesInVal). */
  mIoUInVal?: Stat;
}

export interface StrategyResult {
  strategy: string;
  /** Seeds that finished every round. */
  seeds: number[];
  curve: CurvePoint[];
  final: {
    percent: Stat;
    mIoU: Stat;
    mIoUInVal?: Stat;
    /** Per-class IoU after the last round, mean over seeds (null where never defined). */
    iou: (number | null)[];
  };
  /**
   * Area under the budget curve: the mIoU integrated over the labelled-pixel percentage (trapezoids,
   * from the start model at 0% to the last round) divided by that range, i.e. the curve's mean
   * mIoU; per seed, then mean and spread.
   */
  aubc: Stat;
  /** Final mean mIoU / the fully supervised baseline's mean mIoU (null without that baseline). */
  ofFull: number | null;
  /** The same over the classes in the validation labels (with classesInVal). */
  ofFullInVal?: number | null;
  /**
   * To reach random's final mean mIoU: the labelled-pixel % this strategy's mean curve needs
   * (linear between rounds; null if it never does) and the labels saved against random's final %
   * (1 - needed / random's; negative = more labels than random). Null for random itself and
   * without a random run.
   */
  vsRandom: { target: number; percentNeeded: number | null; randomPercent: number; saved: number | null } | null;
}

export interface BaselineResult {
  mIoU: Stat;
  mIoUInVal?: Stat;
  iou: (number | null)[];
  perSeed: { seed: number; mIoU: number }[];
}

export interface ExperimentResults extends ExperimentSetup {
  format: 'adaseg-active-results/1';
  strategies: StrategyResult[];
  baselines: {
    sourceOnly?: BaselineResult;
    udaOnly?: BaselineResult;
    full?: BaselineResult;
    /** The strategy label of the random baseline, when it ran. */
    random?: string;
  };
  runs: RawRun[];
}

export function stat(values: number[]): Stat {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, n: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(variance), min: Math.min(...values), max: Math.max(...values), n };
}

/** Per-class mean over runs, ignoring nulls (null where every run has null). */
export function meanIou(lists: (number | null)[][]): (number | null)[] {
  if (lists.length === 0) return [];
  return lists[0].map((_, c) => {
    const vs = lists.map((l) => l[c]).filter((v): v is number => v !== null && v !== undefined);
    return vs.length === 0 ? null : vs.reduce((a, b) => a + b, 0) / vs.length;
  });
}

/** Normalised area under a curve (x ascending): trapezoids / (x_last - x_first); y_first for a single point. */
export function areaUnderCurve(xs: number[], ys: number[]): number {
  if (xs.length !== ys.length || xs.length === 0) throw new RangeError('areaUnderCurve: xs and ys must be non-empty and of one length');
  const range = xs[xs.length - 1] - xs[0];
  if (!(range > 0)) return ys[0];
  let area = 0;
  for (let i = 1; i < xs.length; i++) area += ((ys[i] + ys[i - 1]) / 2) * (xs[i] - xs[i - 1]);
  return area / range;
}

/** The smallest x at which a piecewise-linear curve reaches y >= target, or null. */
export function firstReach(xs: number[], ys: number[], target: number): number | null {
  if (ys[0] >= target) return xs[0];
  for (let i = 1; i < xs.length; i++) {
    if (ys[i] >= target) {
      const t = (target - ys[i - 1]) / (ys[i] - ys[i - 1]);
      return xs[i - 1] + t * (xs[i] - xs[i - 1]);
    }
  }
  return null;
}

/**
 * Mean IoU over the classes marked in `classes` (a class the labels have always has an IoU; one
 * missing from `iou` counts as 0). Throws when no class is marked.
 */
export function mIoUOver(iou: readonly (number | null)[], classes: readonly boolean[]): number {
  const picked = classes.flatMap((p, c) => (p ? [iou[c] ?? 0] : []));
  if (picked.length === 0) throw new RangeError('mIoUOver: no class is marked');
  return picked.reduce((a, b) => a + b, 0) / picked.length;
}

/**
 * The classes the validation labels lack, when the results counted them: only then does the mIoU
 * over the classes in the labels differ from the standard one (and the report show it).
 */
export function classesMissingInVal(results: ExperimentResults): string[] {
  const present = results.classesInVal;
  if (present === undefined) return [];
  return results.classNames.filter((_, c) => !present[c]);
}

function baseline(list: { seed: number; e: EvalSummary | undefined }[], inVal: ((iou: (number | null)[]) => number) | null): BaselineResult | undefined {
  const present = list.filter((x): x is { seed: number; e: EvalSummary } => x.e !== undefined);
  if (present.length === 0) return undefined;
  return {
    mIoU: stat(present.map((x) => x.e.mIoU)),
    ...(inVal ? { mIoUInVal: stat(present.map((x) => inVal(x.e.iou))) } : {}),
    iou: meanIou(present.map((x) => x.e.iou)),
    perSeed: present.map((x) => ({ seed: x.seed, mIoU: x.e.mIoU })),
  };
}

export function buildResults(raw: RawExperiment): ExperimentResults {
  const classesInVal = raw.classesInVal !== undefined && raw.classesInVal.some(Boolean) ? raw.classesInVal : undefined;
  const inVal = classesInVal ? (iou: (number | null)[]) => mIoUOver(iou, classesInVal) : null;
  const full = baseline(
    raw.baselines.map((b) => ({ seed: b.seed, e: b.full })),
    inVal,
  );
  const strategies: StrategyResult[] = raw.strategies.map((label) => {
    const runs = raw.runs.filter((r) => r.strategy === label);
    const points = runs.length === 0 ? 0 : Math.min(...runs.map((r) => r.rounds.length));
    const curve: CurvePoint[] = Array.from({ length: points }, (_, i) => ({
      round: runs[0].rounds[i].round,
      percent: stat(runs.map((r) => r.rounds[i].percent)),
      mIoU: stat(runs.map((r) => r.rounds[i].mIoU)),
      ...(inVal ? { mIoUInVal: stat(runs.map((r) => inVal(r.rounds[i].iou))) } : {}),
    }));
    const last = (r: RawRun) => r.rounds[points - 1];
    return {
      strategy: label,
      seeds: runs.map((r) => r.seed),
      curve,
      final: {
        percent: stat(runs.map((r) => last(r).percent)),
        mIoU: stat(runs.map((r) => last(r).mIoU)),
        ...(inVal ? { mIoUInVal: stat(runs.map((r) => inVal(last(r).iou))) } : {}),
        iou: meanIou(runs.map((r) => last(r).iou)),
      },
      aubc: stat(
        runs.map((r) =>
          areaUnderCurve(
            r.rounds.slice(0, points).map((x) => x.percent),
            r.rounds.slice(0, points).map((x) => x.mIoU),
          ),
        ),
      ),
      ofFull: full !== undefined && curve.length > 0 ? curve[curve.length - 1].mIoU.mean / full.mIoU.mean : null,
      ...(inVal
        ? { ofFullInVal: full?.mIoUInVal !== undefined && curve.length > 0 ? curve[curve.length - 1].mIoUInVal!.mean / full.mIoUInVal.mean : null }
        : {}),
      vsRandom: null,
    };
  });
  const random = strategies.find((s) => s.strategy === 'random');
  if (random !== undefined && random.curve.length > 0) {
    const target = random.final.mIoU.mean;
    const randomPercent = random.final.percent.mean;
    for (const s of strategies) {
      if (s === random || s.curve.length === 0) continue;
      const needed = firstReach(
        s.curve.map((p) => p.percent.mean),
        s.curve.map((p) => p.mIoU.mean),
        target,
      );
      s.vsRandom = { target, percentNeeded: needed, randomPercent, saved: needed === null || !(randomPercent > 0) ? null : 1 - needed / randomPercent };
    }
  }
  return {
    format: 'adaseg-active-results/1',
    name: raw.name,
    classNames: raw.classNames,
    poolImages: raw.poolImages,
    poolPixels: raw.poolPixels,
    seeds: raw.seeds,
    rounds: raw.rounds,
    budget: raw.budget,
    units: raw.units,
    pipelineIterations: raw.pipelineIterations,
    ...(classesInVal ? { classesInVal } : {}),
    strategies,
    baselines: {
      ...(() => {
        const s = baseline(
          raw.baselines.map((b) => ({ seed: b.seed, e: b.sourceOnly })),
          inVal,
        );
        return s ? { sourceOnly: s } : {};
      })(),
      ...(() => {
        const u = baseline(
          raw.baselines.map((b) => ({ seed: b.seed, e: b.udaOnly })),
          inVal,
        );
        return u ? { udaOnly: u } : {};
      })(),
      ...(full ? { full } : {}),
      ...(random ? { random: random.strategy } : {}),
    },
    runs: raw.runs,
  };
}
