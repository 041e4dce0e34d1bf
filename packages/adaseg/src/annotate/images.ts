// Where the server gets a query's image: the run's pool at the loop's working resolution (the
// pool's deterministic resize, as the scorer saw it). Image files are read only from inside the
// dataset's root folder (symlinks resolved); a sample pointing elsewhere is refused.
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { DatasetDescription } from '../data/dataset.js';
import type { RgbImage } from '../data/decode.js';
import type { Transform } from '../data/transforms.js';
import { poolImageRgb } from '../active/units.js';
import { HttpError } from './errors.js';

export interface PoolImageRef {
  index: number;
  id: string;
  width: number;
  height: number;
}

/** The RGB image (working resolution) of pool image `image` of run `run`. */
export type ImageProvider = (run: string, image: PoolImageRef) => Promise<RgbImage>;

/** True when `path` (after resolving symlinks) lies inside `root`. */
export function insideRoot(root: string, path: string): boolean {
  let r: string, p: string;
  try {
    r = realpathSync(resolve(root));
    p = realpathSync(resolve(root, path));
  } catch {
    return false;
  }
  const rel = relative(r, p);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** Images of a pool dataset, checked against its root, with a small cache of decoded images. */
export function datasetImages(pool: DatasetDescription, transforms: readonly Transform[], cacheSize = 32): ImageProvider {
  const cache = new Map<number, Promise<RgbImage>>();
  return async (_run, image) => {
    const sample = pool.samples[image.index];
    if (sample === undefined || sample.id !== image.id)
      throw new HttpError('not-found', `pool image ${image.index} is not '${image.id}' in dataset ${pool.name}`);
    if (sample.image.kind === 'file') {
      if (pool.root === null || !insideRoot(pool.root, sample.image.path))
        throw new HttpError('forbidden', `the image of '${image.id}' is outside the dataset root`);
    }
    let p = cache.get(image.index);
    if (p === undefined) {
      p = poolImageRgb(pool, image.index, transforms);
      cache.set(image.index, p);
      p.catch(() => cache.delete(image.index));
      if (cache.size > cacheSize) cache.delete(cache.keys().next().value as number);
    }
    const rgb = await p;
    if (rgb.width !== image.width || rgb.height !== image.height)
      throw new Error(`pool image '${image.id}' is ${rgb.width}x${rgb.height}, the label store says ${image.width}x${image.height}`);
    return rgb;
  };
}
