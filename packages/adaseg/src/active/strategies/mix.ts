// A mix of strategies: every round's budget is split over part strategies by share, and each part
// chooses with its own selection among the units the parts before it left. Why: on a small pool
// random coverage fixes the large classes the shift breaks (confident mistakes no uncertainty score
// sees), while RIPU-like scores find the boundaries and small objects random rarely hits; a mix buys
// some of each. It is still a pure scorer: its needs are the union of its parts', and its records
// carry each part's record of the unit, so the loop never knows it has a mix.
import { ConfigReader } from '../../util/config-reader.js';
import type { BatchInputs, Need, NeedSettings, SelectionContext, Strategy, UnitConfig, UnitRecord, UnitRef } from '../types.js';
import { rethrow } from './common.js';
import type { StrategyConfig, StrategyEntry, StrategyFunctions } from './registry.js';
import { checkSelectionBudget, isEmpty, pruneRecords, remaining, unitKey as key } from './select.js';

/** A part of a built mix: a strategy and its share of each round's budget. */
export interface MixStrategyPart {
  share: number;
  strategy: Strategy;
}

export class MixStrategy implements Strategy {
  readonly name: string;
  readonly needs: readonly Need[];
  readonly settings: NeedSettings;

  constructor(readonly parts: readonly MixStrategyPart[]) {
    if (parts.length < 2) throw new RangeError(`mix: needs at least two parts, got ${parts.length}`);
    for (const [i, p] of parts.entries()) {
      if (!(p.share > 0 && p.share <= 1)) throw new RangeError(`mix: part ${i} (${p.strategy.name}) has share ${p.share}, expected a number in (0, 1]`);
    }
    const sum = parts.reduce((s, p) => s + p.share, 0);
    if (Math.abs(sum - 1) > 1e-6) throw new RangeError(`mix: the parts' shares must sum to 1, got ${sum}`);
    this.needs = [...new Set(parts.flatMap((p) => p.strategy.needs))];
    const settings: Record<string, number> = {};
    for (const p of parts) {
      for (const [k, v] of Object.entries(p.strategy.settings) as [string, number | undefined][]) {
        if (v === undefined) continue;
        // The scorer computes each need once for the whole mix, so its settings must agree.
        if (settings[k] !== undefined && settings[k] !== v) throw new RangeError(`mix: parts ask the scorer for different ${k} (${settings[k]} and ${v})`);
        settings[k] = v;
      }
    }
    this.settings = settings as NeedSettings;
    this.name = `mix(${parts.map((p) => `${p.strategy.name} ${+(p.share * 100).toFixed(2)}%`).join(' + ')})`;
  }

  /** Each part's records of the batch (pruned to keepPerImage as the scorer would), merged per unit. */
  scoreBatch(inputs: BatchInputs, units: UnitConfig): UnitRecord[] {
    const merged = new Map<string, UnitRecord>();
    this.parts.forEach((part, i) => {
      for (const r of pruneRecords(part.strategy.scoreBatch(inputs, units), inputs.keepPerImage)) {
        let m = merged.get(key(r));
        if (m === undefined) {
          m = {
            image: r.image,
            imageId: r.imageId,
            unit: r.unit,
            pixels: r.pixels,
            parts: new Array<UnitRecord | undefined>(this.parts.length).fill(undefined),
          };
          merged.set(key(r), m);
        }
        m.parts![i] = r;
      }
    });
    const out = [...merged.values()];
    // Fully labelled units come back as references (core-set's initial centres), never selectable.
    for (const m of out) {
      if (m.parts!.every((p) => p === undefined || p.reference)) {
        m.reference = true;
        m.pixels = 0;
      }
    }
    return out.sort((a, b) => a.image - b.image || a.unit - b.unit);
  }

  /**
   * Part by part, in order: part i may spend up to floor(total x its cumulative share) minus what
   * the parts before it spent (so what one cannot spend passes on), choosing among its own records
   * of the units not yet taken. The last part's target is the whole budget.
   */
  select(records: UnitRecord[], context: SelectionContext): UnitRef[] {
    const P = this.parts.length;
    for (const r of records) {
      if (r.parts === undefined || r.parts.length !== P)
        throw new Error(`${this.name}: select needs the records this mix scored (each carrying its ${P} parts' records)`);
    }
    checkSelectionBudget(context.budget);
    const byUnits = context.budget.units !== undefined;
    const total = (context.budget.units ?? context.budget.pixels)!;
    const taken = new Set<string>();
    const out: UnitRef[] = [];
    let cumulative = 0;
    this.parts.forEach((part, i) => {
      cumulative += part.share;
      const target = i === P - 1 ? total : Math.min(total, Math.floor(total * cumulative + 1e-9));
      const budget = remaining(byUnits ? { units: target } : { pixels: target }, out);
      if (isEmpty(budget)) return;
      const own: UnitRecord[] = [];
      for (const r of records) {
        const p = r.parts![i];
        if (p !== undefined && (p.reference || !taken.has(key(p)))) own.push(p);
      }
      if (!own.some((p) => !p.reference)) return;
      for (const ref of part.strategy.select(own, { ...context, budget })) {
        if (taken.has(key(ref))) throw new Error(`${this.name}: part ${part.strategy.name} chose image ${ref.image} unit ${ref.unit} twice`);
        taken.add(key(ref));
        out.push(ref);
      }
    });
    return out;
  }
}

// ---------------------------------------------------------------- registry entry

/**
 * A mix: each round's budget split over part strategies by `share` (fractions summing to 1),
 * each choosing among the units the parts before it left; what a part cannot spend goes to the
 * next, so the round's budget is spent as with one strategy. E.g. random coverage plus RIPU.
 */
export interface MixConfig {
  strategy: 'mix';
  parts: MixPart[];
}

/** One part of a mix: a (non-mix) strategy and its share of every round's budget. */
export interface MixPart {
  share: number;
  strategy: StrategyConfig;
}

/** A mix's parts: at least two { share, strategy } (no mix inside a mix), shares summing to 1. */
function parseMixParts(r: ConfigReader, strategies: StrategyFunctions): MixPart[] {
  const example = 'e.g. [{ share: 0.5, strategy: random }, { share: 0.5, strategy: ripu }]';
  if (!r.has('parts')) r.fail('parts', `is required: a list of { share, strategy }, ${example}`);
  const list = r.array('parts');
  if (list.length < 2) r.fail('parts', `must list at least two parts, ${example}`);
  const parts = list.map((value, i) => {
    const p = ConfigReader.root(value, `${r.path}.parts[${i}]`);
    p.only(['share', 'strategy']);
    const share = p.number('share', undefined, { min: 0, exclusiveMin: true, max: 1 });
    if (!p.has('strategy')) p.fail('strategy', 'is required (a strategy kind or config, not a mix)');
    const strategy = strategies.parse(p.raw('strategy'), `${p.path}.strategy`);
    if (strategy.strategy === 'mix') p.fail('strategy', 'cannot be a mix itself: list its parts in this mix');
    return { share, strategy };
  });
  const sum = parts.reduce((s, p) => s + p.share, 0);
  if (Math.abs(sum - 1) > 1e-6) r.fail('parts', `shares must sum to 1, got ${+sum.toFixed(6)}`);
  const labels = parts.map((p) => strategies.describe(p.strategy));
  labels.forEach((l, i) => {
    if (labels.indexOf(l) !== i) r.fail(`parts[${i}]`, `repeats '${l}': give it one part with the summed share`);
  });
  // The parts must also agree on what they ask the scorer for (e.g. BALD's passes).
  rethrow(r, () => strategies.create({ strategy: 'mix', parts }));
  return parts;
}

export const mixStrategy: StrategyEntry<MixConfig> = {
  kind: 'mix',
  keys: ['parts'],
  parse: (r, strategies) => ({ strategy: 'mix', parts: parseMixParts(r, strategies) }),
  create: (c, strategies) => new MixStrategy(c.parts.map((p) => ({ share: p.share, strategy: strategies.create(p.strategy) }))),
  describe: (c, strategies) => `mix: ${c.parts.map((p) => `${strategies.describe(p.strategy)} ${+(p.share * 100).toFixed(2)}%`).join(' + ')}`,
  check(c, units, _fail, where, strategies) {
    c.parts.forEach((p, i) => strategies.check(p.strategy, units, `${where}.parts[${i}]`));
  },
};
