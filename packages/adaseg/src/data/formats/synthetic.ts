// The built-in synthetic domain pair as a dataset format: scenes drawn on the fly (data/synthetic.ts).
import { syntheticDataset } from '../synthetic.js';
import { type DatasetFormatEntry, fail, keys, oneOf, posInt } from './options.js';

/** The built-in synthetic domain pair, drawn on the fly. */
export interface SyntheticConfig {
  format: 'synthetic';
  style: 'source' | 'target';
  count: number;
  width: number;
  height: number;
  seed?: number;
}

export const syntheticFormat = {
  format: 'synthetic',
  hasRoot: false,
  parse(o): SyntheticConfig {
    keys(o, ['format', 'style', 'count', 'width', 'height', 'seed']);
    const seed = o.seed;
    if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0))
      fail(`'seed' must be a non-negative integer, got ${JSON.stringify(seed)}`);
    return {
      format: 'synthetic',
      style: oneOf(o, 'style', ['source', 'target'] as const),
      count: posInt(o, 'count')!,
      width: posInt(o, 'width')!,
      height: posInt(o, 'height')!,
      ...(seed !== undefined ? { seed: seed as number } : {}),
    };
  },
  load: syntheticDataset,
} satisfies DatasetFormatEntry<SyntheticConfig>;
