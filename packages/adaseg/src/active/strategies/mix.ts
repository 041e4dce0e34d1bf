// A mix of strategies: every round's budget is split over part strategies by share, and each part
// chooses with its own selection among the units the parts before it left. Why: on a small pool
// random coverage fixes the large classes the shift breaks (confident mistakes no uncertainty score
// sees), while RIPU-like scores find the boundaries and small objects random rarely hits; a mix buys
// some of each. It is still a pure scorer: its needs are the union of its parts', and its records
// carry each part's record of the unit, so the loop never knows it has a mix.
import type { BatchInputs, Need, NeedSettings, SelectionContext, Strategy, UnitConfig, UnitRecord, UnitRef } from '../types.js';
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
          m = { image: r.image, imageId: r.imageId, unit: r.unit, pixels: r.pixels, parts: new Array<UnitRecord | undefined>(this.parts.length).fill(undefined) };
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
      if (r.parts === undefined || r.parts.length !== P) throw new Error(`${this.name}: select needs the records this mix scored (each carrying its ${P} parts' records)`);
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
