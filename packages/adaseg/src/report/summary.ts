// A Markdown summary of an experiment's results (`adaseg report --run DIR`): the tables a user pastes
// into notes or BENCHMARKS.md. The curves come from results.json only (so they agree with
// report.html); what the bought labels are made of comes from the label store.
import { classesMissingInVal, type ExperimentResults, type Stat, type StrategyResult } from './results.js';
import { SELECTION_ERRORS_INFO_KEY } from '../active/selection-errors.js';
import { type LabelStore, slug } from '../labels/store.js';

const pct = (v: number) => (v * 100).toFixed(1);
const pm = (s: Stat) => (s.n > 1 ? `${pct(s.mean)} ± ${pct(s.std)}` : pct(s.mean));

/**
 * Whether a strategy's final mIoU is above random's by more than the seed spread: the larger of the
 * two standard deviations (null without random or for random itself).
 */
export function beatsRandom(results: ExperimentResults, s: StrategyResult): { margin: number; spread: number; beats: boolean } | null {
  const random = results.strategies.find((x) => x.strategy === results.baselines.random);
  if (random === undefined || random === s || random.curve.length === 0 || s.curve.length === 0) return null;
  const margin = s.final.mIoU.mean - random.final.mIoU.mean;
  const spread = Math.max(s.final.mIoU.std, random.final.mIoU.std);
  return { margin, spread, beats: margin > spread };
}

export function markdownSummary(results: ExperimentResults): string {
  const out: string[] = [];
  const b = results.baselines;
  const full = b.full?.mIoU.mean;
  const rounds = Math.max(0, ...results.strategies.map((s) => s.curve.length));
  out.push(
    `${results.name}: ${results.poolImages} pool images (${results.poolPixels} pixels), seeds ${results.seeds.join(', ')}, ${results.rounds} rounds, units ${JSON.stringify(results.units)}, budget ${JSON.stringify(results.budget)}; mIoU (%) on the validation set, mean ± std over seeds.`,
  );
  out.push('');
  // The mIoU over the classes in the validation labels, when some class is missing there.
  const missing = classesMissingInVal(results);
  const inValHead = missing.length === 0 ? '' : ` mIoU over the ${results.classNames.length - missing.length} classes in val |`;
  const inValRule = missing.length === 0 ? '' : ' --- |';
  const inVal = (s: Stat | undefined) => (missing.length === 0 ? '' : ` ${s === undefined ? '-' : pm(s)} |`);
  out.push(`| baseline | mIoU |${inValHead} per seed |`);
  out.push(`| --- | --- |${inValRule} --- |`);
  for (const [name, r] of [
    ['source only', b.sourceOnly],
    ['UDA only', b.udaOnly],
    [`full supervision (${results.pipelineIterations} iterations)`, b.full],
  ] as const) {
    if (r !== undefined) out.push(`| ${name} | ${pm(r.mIoU)} |${inVal(r.mIoUInVal)} ${r.perSeed.map((p) => pct(p.mIoU)).join(', ')} |`);
  }
  out.push('');
  const roundHeads = Array.from({ length: rounds }, (_, i) => (i === 0 ? 'start' : `round ${i}`));
  out.push(
    `| strategy | ${roundHeads.join(' | ')} | AUBC | % of full |${inValHead.replace('mIoU', 'final mIoU')}${missing.length === 0 ? '' : ' % of full (same classes) |'} labels saved vs random | final − random (spread) |`,
  );
  out.push(`| --- | ${roundHeads.map(() => '---').join(' | ')} | --- | --- |${inValRule}${inValRule} --- | --- |`);
  for (const s of results.strategies) {
    const cells = roundHeads.map((_, i) => {
      const p = s.curve[i];
      return p === undefined ? '-' : `${pm(p.mIoU)} @ ${p.percent.mean.toFixed(2)}%`;
    });
    const vs = beatsRandom(results, s);
    const saved = s.vsRandom === null ? '-' : s.vsRandom.saved === null ? 'never reaches random' : `${(s.vsRandom.saved * 100).toFixed(0)}%`;
    const margin = vs === null ? '-' : `${vs.margin >= 0 ? '+' : ''}${pct(vs.margin)} (${pct(vs.spread)})${vs.beats ? ' **beats**' : ''}`;
    const ofFullInVal =
      missing.length === 0 ? '' : ` ${s.ofFullInVal === null || s.ofFullInVal === undefined ? '-' : `${(s.ofFullInVal * 100).toFixed(1)}%`} |`;
    out.push(
      `| ${s.strategy} | ${cells.join(' | ')} | ${pm(s.aubc)} | ${full === undefined ? '-' : `${((s.final.mIoU.mean / full) * 100).toFixed(1)}%`} |${inVal(s.final.mIoUInVal)}${ofFullInVal} ${saved} | ${margin} |`,
    );
  }
  if (missing.length > 0) {
    out.push('');
    out.push(
      `The validation labels have no pixel of ${missing.join(', ')}: the standard mIoU counts such a class as 0 for a model that predicts it anywhere and leaves it out for one that never does; the columns over the classes in val leave it out for every model.`,
    );
  }
  if (full !== undefined) {
    out.push('');
    out.push(`Share of full supervision (${pct(full)}) reached at each round's labelled %, mean over seeds:`);
    out.push('');
    out.push(`| strategy | ${roundHeads.slice(1).join(' | ')} |`);
    out.push(
      `| --- | ${roundHeads
        .slice(1)
        .map(() => '---')
        .join(' | ')} |`,
    );
    for (const s of results.strategies) {
      out.push(
        `| ${s.strategy} | ${s.curve
          .slice(1)
          .map((p) => `${((p.mIoU.mean / full) * 100).toFixed(1)}% @ ${p.percent.mean.toFixed(1)}%`)
          .join(' | ')} |`,
      );
    }
  }
  out.push('');
  const heads = [
    ...results.strategies.map((s) => s.strategy),
    ...(b.sourceOnly ? ['source only'] : []),
    ...(b.udaOnly ? ['UDA only'] : []),
    ...(b.full ? ['full'] : []),
  ];
  const columns = [
    ...results.strategies.map((s) => s.final.iou),
    ...(b.sourceOnly ? [b.sourceOnly.iou] : []),
    ...(b.udaOnly ? [b.udaOnly.iou] : []),
    ...(b.full ? [b.full.iou] : []),
  ];
  out.push('Per-class IoU (%) after the last round, mean over seeds:');
  out.push('');
  out.push(`| class | ${heads.join(' | ')} |`);
  out.push(`| --- | ${heads.map(() => '---').join(' | ')} |`);
  results.classNames.forEach((name, c) => {
    out.push(`| ${name} | ${columns.map((iou) => (iou[c] === null || iou[c] === undefined ? '-' : pct(iou[c]!))).join(' | ')} |`);
  });
  return out.join('\n');
}

/** What one strategy's labels are made of, per seed then averaged: the analysis of *why* curves differ. */
export interface LabelComposition {
  strategy: string;
  runs: number;
  /** Mean over seeds of: pixels covered by bought units, of which void (no class), images touched. */
  coveredPixels: number;
  voidShare: number;
  imagesTouched: number;
  /** Share of each class among the labelled (non-void) pixels, pooled over seeds. */
  classShare: number[];
  /**
   * Of the labelled pixels, the share the model that chose them predicted wrongly (pooled over
   * seeds and rounds); null when no round recorded it (runs from before it was measured).
   */
  modelWrongShare: number | null;
}

/** Reads, for every run of the store, the composition of its labels (strategies in `order`). */
export function labelComposition(store: LabelStore, order: readonly string[]): LabelComposition[] {
  const runs = store.runs();
  const out: LabelComposition[] = [];
  for (const strategy of order) {
    // Runs are named '<slug of the strategy label>/seed-N' ('bald (T=8)' -> 'bald-t-8/seed-0').
    const mine = runs.filter((r) => r.name.startsWith(`${slug(strategy)}/`));
    if (mine.length === 0) continue;
    const classes = mine[0].classNames.length;
    const counts = new Float64Array(classes);
    let covered = 0;
    let voidPixels = 0;
    let touched = 0;
    let checked = 0;
    let wrong = 0;
    for (const r of mine) {
      for (const round of store.rounds(r.name)) {
        const e = round.info[SELECTION_ERRORS_INFO_KEY];
        if (e === undefined) continue;
        checked += e.labelled;
        wrong += e.wrong;
      }
      covered += r.coveredPixels;
      voidPixels += r.coveredPixels - r.labelledPixels;
      const masks = store.labelledMasks(r.name);
      touched += store.coveredMasks(r.name).size;
      for (const m of masks.values()) for (const v of m.data) if (v < classes) counts[v]++;
    }
    const labelled = counts.reduce((a, b) => a + b, 0);
    out.push({
      strategy,
      runs: mine.length,
      coveredPixels: covered / mine.length,
      voidShare: covered > 0 ? voidPixels / covered : 0,
      imagesTouched: touched / mine.length,
      classShare: Array.from(counts, (c) => (labelled > 0 ? c / labelled : 0)),
      modelWrongShare: checked > 0 ? wrong / checked : null,
    });
  }
  return out;
}

export function markdownComposition(rows: LabelComposition[], classNames: readonly string[], poolImages: number): string {
  const out: string[] = [];
  out.push(
    'What the bought labels are made of (mean over seeds; class shares pooled over seeds, % of the labelled non-void pixels; "model wrong": % of the labelled pixels that the model which chose them predicted wrongly):',
  );
  out.push('');
  out.push(`| strategy | covered px | void | model wrong | images touched (of ${poolImages}) | ${classNames.join(' | ')} |`);
  out.push(`| --- | --- | --- | --- | --- | ${classNames.map(() => '---').join(' | ')} |`);
  for (const r of rows) {
    const wrong = r.modelWrongShare === null ? '-' : `${(r.modelWrongShare * 100).toFixed(1)}%`;
    out.push(
      `| ${r.strategy} | ${Math.round(r.coveredPixels)} | ${(r.voidShare * 100).toFixed(1)}% | ${wrong} | ${r.imagesTouched.toFixed(1)} | ${r.classShare.map((s) => (s * 100).toFixed(1)).join(' | ')} |`,
    );
  }
  return out.join('\n');
}
