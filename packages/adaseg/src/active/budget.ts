// Budgets: a total for the whole run (images, units, or a percentage of all pool pixels, void
// included) spread over R rounds in equal shares.
//
// Rounding: the cumulative target after round r (1-based) is floor(total * r / R), in units for
// 'images' and 'regions' and in pixels for 'pixelPercent' (total pixels = floor(percent / 100 *
// pool pixels)). Round r may spend target(r) minus what the earlier rounds spent: shares differ
// by at most one unit (or pixel), anything a round could not spend (units are all-or-nothing and
// never overshoot a pixel budget) carries over to the next, and the run never exceeds the total.
import sharp from 'sharp';
import type { DatasetDescription } from '../data/dataset.js';
import { Rng, hashSeed } from '../data/rng.js';
import type { Transform } from '../data/transforms.js';
import type { BudgetConfig, SelectionContext, UnitConfig } from './types.js';
import { checkPoolTransforms } from './units.js';

export interface PoolSize {
  /** Images in the target pool. */
  images: number;
  /** All their pixels (void included). */
  pixels: number;
}

export interface Spent {
  /** Units selected so far (images, for image units). */
  units: number;
  pixels: number;
}

export type RoundBudget = SelectionContext['budget'];

/**
 * Images and pixels of a pool at the resolution it is scored and labelled at (after its
 * deterministic transforms): from the last resize or centerCrop when there is one, else from each
 * image's header (synthetic scenes: their size).
 */
export async function poolSize(pool: DatasetDescription, transforms: readonly Transform[] = []): Promise<PoolSize> {
  checkPoolTransforms(transforms);
  const images = pool.samples.length;
  const last = [...transforms].reverse().find((t) => t.kind === 'resize' || t.kind === 'centerCrop') as { width: number; height: number } | undefined;
  if (last !== undefined) return { images, pixels: images * last.width * last.height };
  let pixels = 0;
  for (const s of pool.samples) {
    if (s.image.kind === 'synthetic') pixels += s.image.scene.width * s.image.scene.height;
    else {
      const meta = await sharp(s.image.path).metadata();
      if (!meta.width || !meta.height) throw new Error(`poolSize: cannot read the size of ${s.image.path}`);
      pixels += meta.width * meta.height;
    }
  }
  return { images, pixels };
}

function checkRound(config: BudgetConfig, round: number): void {
  if (!Number.isInteger(config.rounds) || config.rounds < 1) throw new RangeError(`budget: rounds must be a positive integer, got ${config.rounds}`);
  if (!Number.isInteger(round) || round < 1 || round > config.rounds) throw new RangeError(`budget: round must be in 1..${config.rounds}, got ${round}`);
}

/** The whole run's budget: units (images, regions) or pixels. */
export function totalBudget(config: BudgetConfig, pool: PoolSize): RoundBudget {
  switch (config.kind) {
    case 'images':
      return { units: Math.min(pool.images, Math.floor(config.total)) };
    case 'regions':
      return { units: Math.floor(config.total) };
    case 'pixelPercent':
      return { pixels: Math.floor((config.total / 100) * pool.pixels) };
  }
}

/** What rounds 1..round may have spent in total: floor(total * round / rounds). */
export function cumulativeBudget(config: BudgetConfig, round: number, pool: PoolSize): RoundBudget {
  checkRound(config, round);
  const total = totalBudget(config, pool);
  const share = (t: number) => Math.floor((t * round) / config.rounds);
  return total.units !== undefined ? { units: share(total.units) } : { pixels: share(total.pixels!) };
}

/** This round's budget: the cumulative target minus what was spent (never negative). */
export function roundBudget(config: BudgetConfig, options: { round: number; pool: PoolSize; spent?: Spent }): RoundBudget {
  const target = cumulativeBudget(config, options.round, options.pool);
  const spent = options.spent ?? { units: 0, pixels: 0 };
  return target.units !== undefined ? { units: Math.max(0, target.units - spent.units) } : { pixels: Math.max(0, target.pixels! - spent.pixels) };
}

/** Rejects budget kinds that do not fit the units (at config load, with a clear message). */
export function checkBudget(config: BudgetConfig, units: UnitConfig): void {
  if (!(typeof config.total === 'number' && Number.isFinite(config.total) && config.total >= 0))
    throw new RangeError(`budget: total must be a number >= 0, got ${config.total}`);
  if (!Number.isInteger(config.rounds) || config.rounds < 1) throw new RangeError(`budget: rounds must be a positive integer, got ${config.rounds}`);
  if (config.kind === 'images' && units.kind !== 'image')
    throw new RangeError(`budget: an 'images' budget needs image units (got ${units.kind} units: use 'regions' or 'pixelPercent')`);
  if (config.kind === 'regions' && units.kind === 'image')
    throw new RangeError("budget: a 'regions' budget counts region, superpixel or pixel units; with image units use 'images' or 'pixelPercent'");
  if (config.kind === 'pixelPercent' && config.total > 100) throw new RangeError(`budget: pixelPercent total must be <= 100, got ${config.total}`);
  if ((config.kind === 'images' || config.kind === 'regions') && !Number.isInteger(config.total))
    throw new RangeError(`budget: a '${config.kind}' total must be an integer, got ${config.total}`);
}

/** The seeded random numbers of a selection (SelectionContext.random) for a round and strategy. */
export function seededRandom(...seed: number[]): () => number {
  const rng = new Rng(hashSeed(...seed));
  return () => rng.next();
}
