// Phase 2 machinery shared by the strategies: taking units in a preferred order within a unit or
// pixel budget, per-image shares, top-score selection, and the clustering behind the diversity
// strategies (seeded k-means++, Lloyd's k-means, k-center greedy) on the engine.
import * as torch from '@adaseg/torch';
import type { SelectionContext, UnitRecord, UnitRef } from '../types.js';

type Tensor = torch.Tensor;
type Budget = SelectionContext['budget'];

export function toRef(r: UnitRecord): UnitRef {
  return { image: r.image, imageId: r.imageId, unit: r.unit, pixels: r.pixels };
}

/** A unit's identity across records: 'image:unit'. */
export function unitKey(r: { image: number; unit: number }): string {
  return `${r.image}:${r.unit}`;
}

/** Throws unless the budget gives exactly one of units and pixels, as a non-negative integer. */
export function checkSelectionBudget(budget: Budget): void {
  const ok = (v: number | undefined) => v === undefined || (Number.isInteger(v) && v >= 0);
  if (!budget || (budget.units === undefined) === (budget.pixels === undefined) || !ok(budget.units) || !ok(budget.pixels)) {
    throw new RangeError(`select: the budget must give exactly one of units and pixels, as non-negative integers, got ${JSON.stringify(budget)}`);
  }
}

/** Budget left after taking these units (pixels or units). */
export function remaining(budget: Budget, taken: readonly UnitRef[]): Budget {
  if (budget.units !== undefined) return { units: Math.max(0, budget.units - taken.length) };
  return { pixels: Math.max(0, budget.pixels! - taken.reduce((s, r) => s + r.pixels, 0)) };
}

export function isEmpty(budget: Budget): boolean {
  return budget.units !== undefined ? budget.units <= 0 : budget.pixels! <= 0;
}

/**
 * Takes units in the given order while the budget lasts: n units, or every unit that still fits
 * the pixel budget (a unit too big is skipped, smaller ones after it may still fit; never over).
 */
export function takeInOrder(order: Iterable<UnitRecord>, budget: Budget, exclude?: Set<UnitRecord>): UnitRef[] {
  checkSelectionBudget(budget);
  const out: UnitRef[] = [];
  if (isEmpty(budget)) return out;
  let left = budget.units ?? budget.pixels!;
  const byPixels = budget.units === undefined;
  for (const r of order) {
    if (r.reference || exclude?.has(r)) continue;
    if (byPixels) {
      if (r.pixels <= 0 || r.pixels > left) continue;
      left -= r.pixels;
    } else {
      left -= 1;
    }
    exclude?.add(r);
    out.push(toRef(r));
    if (left <= 0) break;
  }
  return out;
}

/** Units a budget stands for among these records (pixel budgets: by their mean size). */
export function unitsFor(budget: Budget, records: readonly UnitRecord[]): number {
  if (budget.units !== undefined) return Math.min(budget.units, records.length);
  if (records.length === 0) return 0;
  const mean = records.reduce((s, r) => s + r.pixels, 0) / records.length;
  return Math.min(records.length, Math.max(1, Math.floor(budget.pixels! / Math.max(1, mean))));
}

/** Splits a budget into equal shares over `parts` (remainders to the first parts). */
export function shares(budget: Budget, parts: number): Budget[] {
  const total = budget.units ?? budget.pixels!;
  const base = Math.floor(total / parts),
    extra = total - base * parts;
  return Array.from({ length: parts }, (_, i) => {
    const v = base + (i < extra ? 1 : 0);
    return budget.units !== undefined ? { units: v } : { pixels: v };
  });
}

/** Records best first: score descending, then pool order (image, unit) for ties. */
export function byScore(records: readonly UnitRecord[]): UnitRecord[] {
  return records.filter((r) => !r.reference).sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity) || a.image - b.image || a.unit - b.unit);
}

/**
 * The selection skeleton: globally, `pick(all records, budget)`; per image, `pick(image's records,
 * its share)` for each image with candidates (in pool order), then the unused budget filled by
 * `pick(all records not taken, rest)`. Image units are always ranked globally.
 */
export function selectWith(records: readonly UnitRecord[], context: SelectionContext, pick: (records: UnitRecord[], budget: Budget) => UnitRef[]): UnitRef[] {
  checkSelectionBudget(context.budget);
  const candidates = records.filter((r) => !r.reference);
  const imageUnits = candidates.length > 0 && candidates.every((r) => r.unit === 0) && new Set(candidates.map((r) => r.image)).size === candidates.length;
  if (context.ranking === 'global' || imageUnits) return pick([...records], context.budget);
  if (context.ranking !== 'perImage') throw new RangeError(`select: ranking must be 'global' or 'perImage', got ${JSON.stringify(context.ranking)}`);
  const groups = new Map<number, UnitRecord[]>();
  for (const r of records) {
    let g = groups.get(r.image);
    if (g === undefined) groups.set(r.image, (g = []));
    g.push(r);
  }
  const images = [...groups.keys()].filter((i) => groups.get(i)!.some((r) => !r.reference)).sort((a, b) => a - b);
  if (images.length === 0) return [];
  const parts = shares(context.budget, images.length);
  const out: UnitRef[] = [];
  const taken = new Set<string>();
  images.forEach((image, i) => {
    for (const ref of pick(groups.get(image)!, parts[i])) {
      out.push(ref);
      taken.add(unitKey(ref));
    }
  });
  const rest = remaining(context.budget, out);
  if (!isEmpty(rest)) {
    const left = records.filter((r) => r.reference || !taken.has(unitKey(r)));
    if (left.some((r) => !r.reference)) out.push(...pick(left, rest));
  }
  return out;
}

/** Highest scores first, within the budget (global or per image). */
export function selectTopScores(records: readonly UnitRecord[], context: SelectionContext): UnitRef[] {
  return selectWith(records, context, (rs, budget) => takeInOrder(byScore(rs), budget));
}

/** Keeps at most `keep` scored records per image (the highest; unscored records and references stay). */
export function pruneRecords(records: UnitRecord[], keep: number): UnitRecord[] {
  if (!Number.isFinite(keep)) return records;
  const byImage = new Map<number, UnitRecord[]>();
  for (const r of records) if (r.score !== undefined && !r.reference) (byImage.get(r.image) ?? byImage.set(r.image, []).get(r.image)!).push(r);
  const drop = new Set<UnitRecord>();
  for (const rs of byImage.values()) {
    if (rs.length <= keep) continue;
    rs.sort((a, b) => b.score! - a.score! || a.unit - b.unit);
    for (const r of rs.slice(keep)) drop.add(r);
  }
  return drop.size === 0 ? records : records.filter((r) => !drop.has(r));
}

// ---------------------------------------------------------------- clustering on the engine

/** The embeddings of records as one [n, E] float32 tensor. */
export function embeddingMatrix(records: readonly UnitRecord[], what = 'records'): Tensor {
  if (records.length === 0) throw new RangeError(`${what}: no records`);
  const E = records[0].embedding?.length;
  if (E === undefined) throw new Error(`${what}: records have no embedding`);
  const data = new Float32Array(records.length * E);
  records.forEach((r, i) => {
    if (r.embedding === undefined || r.embedding.length !== E)
      throw new RangeError(`${what}: record ${i} has an embedding of ${r.embedding?.length} values, expected ${E}`);
    data.set(r.embedding, i * E);
  });
  return torch.tensor(data, { shape: [records.length, E] });
}

/** The records at the indices an order yields. */
export function* recordsInOrder(order: Iterable<number>, records: readonly UnitRecord[]): Generator<UnitRecord> {
  for (const i of order) yield records[i];
}

/** Squared distances of every row of X [n, E] to one row c [E]: [n]. */
function distancesTo(X: Tensor, c: Tensor): Tensor {
  return torch.tidy(() => X.sub(c.unsqueeze(0)).square().sum(1));
}

/** Squared distances [n, k] between rows of X [n, E] and C [k, E], in chunks of rows. */
export function pairwiseSquared(X: Tensor, C: Tensor, chunkElements = 1 << 22): Tensor {
  return torch.tidy(() => {
    const n = X.shape[0],
      k = C.shape[0];
    const cc = C.square().sum(1).unsqueeze(0);
    const rows = Math.max(1, Math.floor(chunkElements / Math.max(1, k)));
    const parts: Tensor[] = [];
    for (let s = 0; s < n; s += rows) {
      const x = X.narrow(0, s, Math.min(rows, n - s));
      parts.push(x.square().sum(1, true).add(cc).sub(x.matmul(C.T).mul(2)).clamp(0));
    }
    return parts.length === 1 ? parts[0] : torch.cat(parts, 0);
  });
}

/**
 * k-means++ seeding (Arthur & Vassilvitskii 2007; BADGE's selection): the first point at random
 * (or the largest norm), then each next point drawn with probability proportional to its squared
 * distance to the nearest chosen one. Yields indices lazily, so callers stop when the budget is
 * spent. Points identical to chosen ones come last, in index order.
 */
export function* kmeansppOrder(X: Tensor, random: () => number, first: 'random' | 'maxNorm' = 'random'): Generator<number> {
  const n = X.shape[0];
  if (n === 0) return;
  const chosen = new Uint8Array(n);
  let c = first === 'maxNorm' ? (torch.tidy(() => X.square().sum(1).argmax().item()) as number) : Math.min(n - 1, Math.floor(random() * n));
  const minD = torch.keep(torch.full([n], Infinity));
  try {
    for (let step = 0; step < n; step++) {
      chosen[c] = 1;
      yield c;
      if (step === n - 1) break;
      const d = torch.tidy(() => {
        const dc = distancesTo(X, X.select(0, c));
        minD.copy_(minD.minimum(dc));
        return minD.toTypedArray() as Float32Array;
      });
      let sum = 0;
      for (let i = 0; i < n; i++) if (!chosen[i]) sum += d[i];
      let next = -1;
      if (sum > 0) {
        let r = random() * sum;
        for (let i = 0; i < n; i++) {
          if (chosen[i] || d[i] <= 0) continue;
          next = i;
          r -= d[i];
          if (r < 0) break;
        }
      }
      if (next < 0) next = chosen.indexOf(0);
      c = next;
    }
  } finally {
    minD.dispose();
  }
}

/**
 * k-center greedy (Sener & Savarese 2018, core-set): repeatedly the point farthest from every
 * centre. Initial centres: `initial` (rows of Y), or a random point when there are none. Lazy.
 */
export function* kcenterOrder(X: Tensor, random: () => number, initial?: Tensor): Generator<number> {
  const n = X.shape[0];
  if (n === 0) return;
  const minD = torch.keep(torch.full([n], Infinity));
  try {
    if (initial !== undefined && initial.shape[0] > 0) {
      torch.tidy(() => {
        minD.copy_(pairwiseSquared(X, initial).min(1)[0]);
      });
    }
    let c = initial !== undefined && initial.shape[0] > 0 ? (torch.tidy(() => minD.argmax().item()) as number) : Math.min(n - 1, Math.floor(random() * n));
    for (let step = 0; step < n; step++) {
      yield c;
      if (step === n - 1) break;
      c = torch.tidy(() => {
        // A chosen point gets -1, below every candidate, and keeps it (minimum with d >= 0).
        minD.copy_(minD.minimum(distancesTo(X, X.select(0, c))));
        minD.indexPut_([torch.tensor([c], { dtype: 'int64' })], torch.full([1], -1));
        return minD.argmax().item() as number;
      });
    }
  } finally {
    minD.dispose();
  }
}

export interface KMeansResult {
  /** [k, E] centroids (kept: dispose them). */
  centroids: Tensor;
  /** Cluster of each point. */
  assignment: Int32Array;
  /** Squared distance of each point to its centroid. */
  distance: Float32Array;
  iterations: number;
}

/** Lloyd's k-means from a seeded k-means++ start; stops when assignments no longer change. */
export function kmeans(X: Tensor, k: number, random: () => number, maxIterations = 50): KMeansResult {
  const n = X.shape[0];
  if (!(Number.isInteger(k) && k >= 1 && k <= n)) throw new RangeError(`kmeans: k must be in 1..${n}, got ${k}`);
  const seeds: number[] = [];
  for (const i of kmeansppOrder(X, random)) {
    seeds.push(i);
    if (seeds.length === k) break;
  }
  let centroids = torch.keep(torch.tidy(() => X.index([torch.tensor(seeds, { dtype: 'int64' })]).clone()));
  let assignment: Int32Array = new Int32Array(n).fill(-1);
  let distance: Float32Array = new Float32Array(n);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const [a, d] = torch.tidy(() => {
      const [dmin, arg] = pairwiseSquared(X, centroids).min(1);
      return [Int32Array.from(arg.toTypedArray() as BigInt64Array, Number), dmin.toTypedArray() as Float32Array] as const;
    });
    const changed = a.some((v, i) => v !== assignment[i]);
    assignment = a;
    distance = d;
    if (!changed) break;
    const next = torch.keep(
      torch.tidy(() => {
        const idx = torch.tensor(a, { dtype: 'int64' }).unsqueeze(1).expand([n, X.shape[1]]);
        const sums = torch.zeros([k, X.shape[1]]).scatterAdd(0, idx, X);
        const counts = torch.zeros([k]).scatterAdd(0, torch.tensor(a, { dtype: 'int64' }), torch.ones([n]));
        const empty = counts.eq(0).unsqueeze(1);
        // An empty cluster keeps its centroid.
        return torch.where(empty, centroids, sums.div(counts.clamp(1).unsqueeze(1)));
      }),
    );
    centroids.dispose();
    centroids = next;
  }
  return { centroids, assignment, distance, iterations };
}

/**
 * The order k-means picks units in: the member nearest each centroid (clusters by size, largest
 * first), then the second nearest of each, and so on.
 */
export function kmeansOrder(result: KMeansResult, k: number): number[] {
  const members: number[][] = Array.from({ length: k }, () => []);
  result.assignment.forEach((c, i) => members[c].push(i));
  for (const m of members) m.sort((a, b) => result.distance[a] - result.distance[b] || a - b);
  const clusters = members.map((m, c) => ({ c, m })).filter((x) => x.m.length > 0);
  clusters.sort((a, b) => b.m.length - a.m.length || a.c - b.c);
  const order: number[] = [];
  for (let rank = 0; order.length < result.assignment.length; rank++) {
    for (const { m } of clusters) if (rank < m.length) order.push(m[rank]);
  }
  return order;
}

/** k-means of the records' embeddings with k = the units the budget stands for; units nearest the centroids. */
export function pickByKMeans(records: UnitRecord[], budget: Budget, random: () => number, iterations: number): UnitRef[] {
  const candidates = records.filter((r) => !r.reference);
  const k = unitsFor(budget, candidates);
  if (k === 0) return [];
  return torch.tidy(() => {
    const X = embeddingMatrix(candidates, 'kmeans');
    const result = kmeans(X, k, random, iterations);
    result.centroids.dispose();
    return takeInOrder(
      kmeansOrder(result, k).map((i) => candidates[i]),
      budget,
    );
  });
}
