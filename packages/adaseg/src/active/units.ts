// Selection units: how a pool image is cut into things one can ask an annotator to label, which
// pixels a unit covers (for the annotator and the label store), and per-unit sums of per-pixel
// maps on the engine (for the scorer and the strategies).
//
// Unit indices, per kind (UnitConfig):
//   image        0
//   region       r * cols + c for the (2k+1)-square at row r, column c of the tiling from the
//                top-left corner; rows = ceil(H / (2k+1)), cols = ceil(W / (2k+1)); the last row
//                and column are clipped by the image edge (so they cover fewer pixels)
//   superpixel   the superpixel's label: 0, 1, ... in raster order of first appearance
//   pixel        y * W + x
//
// Superpixels are computed from the 8-bit RGB image at the pool's resolution (SLIC, data/slic.ts),
// or as a grid of rectangles of about `size` pixels ('grid', no image needed). The scorer recovers the
// RGB from the normalised batch exactly (denormalizeRgb); the annotator gets it with
// poolImageRgb; both give the same bytes, so both see the same superpixels.
import * as torch from '@adaseg/torch';
import type { DatasetDescription } from '../data/dataset.js';
import { decodeImage, type RgbImage } from '../data/decode.js';
import { Rng } from '../data/rng.js';
import { renderScene } from '../data/synthetic.js';
import { applyTransforms, type Normalize, type Transform } from '../data/transforms.js';
import { gridSegments, type Segmentation, slic } from '../data/slic.js';
import type { UnitConfig } from './types.js';

const F = torch.functional;
type Tensor = torch.Tensor;

export interface ImageSize {
  width: number;
  height: number;
}

/** Side of a region unit: 2k + 1. */
export function regionSide(k: number): number {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`region units: k must be an integer >= 0, got ${k}`);
  return 2 * k + 1;
}

/** Rows and columns of the region tiling of an image. */
export function regionGrid(k: number, size: ImageSize): { rows: number; cols: number; side: number } {
  const side = regionSide(k);
  return { rows: Math.ceil(size.height / side), cols: Math.ceil(size.width / side), side };
}

/** Checks a unit config (used by the config parser and by every function here). */
export function checkUnitConfig(units: UnitConfig): void {
  if (units === null || typeof units !== 'object') throw new TypeError(`unit config must be an object with a kind, got ${JSON.stringify(units)}`);
  switch (units.kind) {
    case 'image':
    case 'pixel':
      return;
    case 'region':
      regionSide(units.k);
      return;
    case 'superpixel':
      if (!(typeof units.size === 'number' && Number.isFinite(units.size) && units.size >= 1))
        throw new RangeError(`superpixel units: size must be a number >= 1, got ${units.size}`);
      if (units.compactness !== undefined && !(units.compactness > 0))
        throw new RangeError(`superpixel units: compactness must be > 0, got ${units.compactness}`);
      if (units.method !== undefined && units.method !== 'slic' && units.method !== 'grid')
        throw new RangeError(`superpixel units: method must be 'slic' or 'grid', got ${JSON.stringify(units.method)}`);
      return;
    default:
      throw new RangeError(`unknown unit kind ${JSON.stringify((units as { kind: unknown }).kind)} (image, region, superpixel, pixel)`);
  }
}

/** True when the units of this config depend on the image content (SLIC superpixels). */
export function needsImage(units: UnitConfig): boolean {
  return units.kind === 'superpixel' && (units.method ?? 'slic') === 'slic';
}

// ---------------------------------------------------------------- superpixels

/** The superpixels of an image for a superpixel unit config. */
export function superpixels(units: Extract<UnitConfig, { kind: 'superpixel' }>, size: ImageSize, image?: RgbImage): Segmentation {
  if ((units.method ?? 'slic') === 'grid') return gridSegments(size, units.size);
  if (image === undefined) throw new Error("superpixel units (SLIC) need the image: pass its RGB (poolImageRgb), or use method 'grid'");
  if (image.width !== size.width || image.height !== size.height)
    throw new RangeError(`superpixels: image is ${image.width}x${image.height}, expected ${size.width}x${size.height}`);
  return slic(image, { size: units.size, compactness: units.compactness });
}

// ---------------------------------------------------------------- unit <-> pixels

/**
 * The units of one image: how many, which pixels each covers, and which unit each pixel is in.
 * Build it once per image (for SLIC it runs the segmentation) and ask it for many units.
 */
export class UnitLayout {
  readonly count: number;
  private readonly segments: Int32Array | null;
  private readonly grid: { rows: number; cols: number; side: number } | null;
  private index: { starts: Int32Array; pixels: Uint32Array } | null = null;

  constructor(
    readonly units: UnitConfig,
    readonly size: ImageSize,
    /** The RGB image (SLIC superpixels), or an already computed segmentation. */
    image?: RgbImage | Segmentation,
  ) {
    checkUnitConfig(units);
    const { width, height } = size;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
      throw new RangeError(`unit layout: bad image size ${width}x${height}`);
    this.segments = null;
    this.grid = null;
    switch (units.kind) {
      case 'image':
        this.count = 1;
        break;
      case 'pixel':
        this.count = width * height;
        break;
      case 'region':
        this.grid = regionGrid(units.k, size);
        this.count = this.grid.rows * this.grid.cols;
        break;
      case 'superpixel': {
        const seg = image !== undefined && 'labels' in image ? image : superpixels(units, size, image as RgbImage | undefined);
        if (seg.labels.length !== width * height) throw new RangeError(`unit layout: segmentation has ${seg.labels.length} labels for ${width}x${height}`);
        this.segments = seg.labels;
        this.count = seg.count;
        break;
      }
    }
  }

  /** The unit that pixel (row-major index) belongs to. */
  unitOf(pixel: number): number {
    const { width } = this.size;
    switch (this.units.kind) {
      case 'image':
        return 0;
      case 'pixel':
        return pixel;
      case 'region': {
        const g = this.grid!;
        const x = pixel % width,
          y = (pixel - x) / width;
        return Math.floor(y / g.side) * g.cols + Math.floor(x / g.side);
      }
      case 'superpixel':
        return this.segments![pixel];
    }
  }

  /** Unit index of every pixel, row-major. */
  unitMap(): Int32Array {
    if (this.segments !== null) return this.segments;
    const n = this.size.width * this.size.height;
    const out = new Int32Array(n);
    for (let p = 0; p < n; p++) out[p] = this.unitOf(p);
    return out;
  }

  private checkUnit(unit: number): void {
    if (!Number.isInteger(unit) || unit < 0 || unit >= this.count)
      throw new RangeError(`unit ${unit} is out of range: this ${this.units.kind} layout has units 0..${this.count - 1}`);
  }

  /** Row-major indices of the pixels of a unit, ascending. */
  pixels(unit: number): Uint32Array {
    this.checkUnit(unit);
    const { width, height } = this.size;
    switch (this.units.kind) {
      case 'image':
        return Uint32Array.from({ length: width * height }, (_, i) => i);
      case 'pixel':
        return Uint32Array.of(unit);
      case 'region': {
        const g = this.grid!;
        const r = Math.floor(unit / g.cols),
          c = unit % g.cols;
        const y0 = r * g.side,
          x0 = c * g.side;
        const y1 = Math.min(height, y0 + g.side),
          x1 = Math.min(width, x0 + g.side);
        const out = new Uint32Array((y1 - y0) * (x1 - x0));
        let i = 0;
        for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) out[i++] = y * width + x;
        return out;
      }
      case 'superpixel': {
        if (this.index === null) {
          const seg = this.segments!;
          const starts = new Int32Array(this.count + 1);
          for (let p = 0; p < seg.length; p++) starts[seg[p] + 1]++;
          for (let k = 0; k < this.count; k++) starts[k + 1] += starts[k];
          const fill = starts.slice(0, this.count);
          const pixels = new Uint32Array(seg.length);
          for (let p = 0; p < seg.length; p++) pixels[fill[seg[p]]++] = p;
          this.index = { starts, pixels };
        }
        return this.index.pixels.slice(this.index.starts[unit], this.index.starts[unit + 1]);
      }
    }
  }

  /** A 0/1 mask (row-major, width x height) of the pixels of the given units. */
  mask(units: number | Iterable<number>): Uint8Array {
    const out = new Uint8Array(this.size.width * this.size.height);
    for (const u of typeof units === 'number' ? [units] : units) for (const p of this.pixels(u)) out[p] = 1;
    return out;
  }

  /** Pixels per unit. */
  pixelCounts(): Int32Array {
    const out = new Int32Array(this.count);
    const { width, height } = this.size;
    switch (this.units.kind) {
      case 'image':
        out[0] = width * height;
        break;
      case 'pixel':
        out.fill(1);
        break;
      case 'region': {
        const g = this.grid!;
        for (let r = 0; r < g.rows; r++) {
          const h = Math.min(height, (r + 1) * g.side) - r * g.side;
          for (let c = 0; c < g.cols; c++) out[r * g.cols + c] = h * (Math.min(width, (c + 1) * g.side) - c * g.side);
        }
        break;
      }
      case 'superpixel':
        for (const l of this.segments!) out[l]++;
        break;
    }
    return out;
  }
}

/** Builds the layout of one image (see UnitLayout). */
export function unitLayout(units: UnitConfig, size: ImageSize, image?: RgbImage | Segmentation): UnitLayout {
  return new UnitLayout(units, size, image);
}

/**
 * The pixels of one unit as a 0/1 mask (row-major, width x height), for the annotator. For SLIC
 * superpixels pass the image (RGB at the pool's resolution, poolImageRgb) or its segmentation;
 * for many units of one image build a UnitLayout once instead.
 */
export function unitMask(units: UnitConfig, size: ImageSize, unit: number, image?: RgbImage | Segmentation): Uint8Array {
  return new UnitLayout(units, size, image).mask(unit);
}

/** The row-major pixel indices of one unit (see unitMask). */
export function unitPixels(units: UnitConfig, size: ImageSize, unit: number, image?: RgbImage | Segmentation): Uint32Array {
  return new UnitLayout(units, size, image).pixels(unit);
}

// ---------------------------------------------------------------- images

/** Transforms that give the same output for every seed (allowed on the pool). */
const DETERMINISTIC = new Set(['resize', 'centerCrop']);

export function checkPoolTransforms(transforms: readonly Transform[]): void {
  for (const t of transforms) {
    if (!DETERMINISTIC.has(t.kind))
      throw new Error(`pool transforms must be deterministic (resize, centerCrop): '${t.kind}' would change the units and labels between calls`);
  }
}

/**
 * The 8-bit RGB of pool image `index` as the scorer sees it (decoded or drawn, then the pool's
 * deterministic transforms): what SLIC superpixels are computed from.
 */
export async function poolImageRgb(dataset: DatasetDescription, index: number, transforms: readonly Transform[] = []): Promise<RgbImage> {
  checkPoolTransforms(transforms);
  const sample = dataset.samples[index];
  if (sample === undefined) throw new RangeError(`poolImageRgb: no sample ${index} in ${dataset.name} (${dataset.samples.length} samples)`);
  let image: RgbImage;
  if (sample.image.kind === 'file') image = await decodeImage(sample.image.path);
  else {
    const scene = renderScene(sample.image.scene);
    image = { width: scene.width, height: scene.height, data: scene.image };
  }
  return applyTransforms({ image, label: null }, transforms, new Rng(0)).image;
}

/**
 * The 8-bit RGB images of a normalised batch [N, 3, H, W] (the loader's output): exact, since the
 * loader's values are (v / 255 - mean) / std of integers v.
 */
export function denormalizeRgb(images: Tensor, normalize: Normalize): RgbImage[] {
  const [N, C, H, W] = images.shape;
  if (C !== 3) throw new RangeError(`denormalizeRgb: expected [N, 3, H, W], got [${images.shape}]`);
  const data = torch.tidy(() => images.float().contiguous().toTypedArray() as Float32Array);
  const plane = H * W;
  const out: RgbImage[] = [];
  for (let i = 0; i < N; i++) {
    const rgb = new Uint8Array(3 * plane);
    for (let c = 0; c < 3; c++) {
      const base = (i * 3 + c) * plane,
        mean = normalize.mean[c],
        std = normalize.std[c];
      for (let p = 0; p < plane; p++) {
        const v = Math.round((data[base + p] * std + mean) * 255);
        rgb[3 * p + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
    out.push({ width: W, height: H, data: rgb });
  }
  return out;
}

// ---------------------------------------------------------------- per-unit sums on the engine

/** Units per image of a batch: the largest count (superpixel images may have fewer). */
export function batchUnitCount(units: UnitConfig, size: ImageSize, segmentCounts?: readonly number[]): number {
  switch (units.kind) {
    case 'image':
      return 1;
    case 'pixel':
      return size.width * size.height;
    case 'region': {
      const g = regionGrid(units.k, size);
      return g.rows * g.cols;
    }
    case 'superpixel':
      if (segmentCounts === undefined || segmentCounts.length === 0) throw new Error('superpixel units need the segmentation of each image');
      return Math.max(...segmentCounts);
  }
}

/**
 * Sums of a per-pixel map [N, K, H, W] over each unit: [N, K, U] (U = batchUnitCount). Regions
 * are sum-pooled (non-overlapping windows, clipped at the edges), superpixels scatter-added by
 * `segments` [N, H, W] (int64), pixels are the map itself.
 */
export function unitSums(map: Tensor, units: UnitConfig, segments?: Tensor, unitCount?: number): Tensor {
  if (map.ndim !== 4) throw new RangeError(`unitSums: expected a map [N, K, H, W], got [${map.shape}]`);
  const [N, K, H, W] = map.shape;
  return torch.tidy(() => {
    switch (units.kind) {
      case 'image':
        return map.sum([2, 3]).unsqueeze(2);
      case 'pixel':
        return map.reshape([N, K, H * W]);
      case 'region': {
        const side = regionSide(units.k);
        if (side === 1) return map.reshape([N, K, H * W]);
        const pooled = F.avgPool2d(map.contiguous(), side, { stride: side, ceilMode: true, divisorOverride: 1 });
        return pooled.reshape([N, K, pooled.shape[2] * pooled.shape[3]]);
      }
      case 'superpixel': {
        if (segments === undefined || unitCount === undefined) throw new Error('unitSums: superpixel units need segments and unitCount');
        const index = segments.reshape([N, 1, H * W]).expand([N, K, H * W]);
        return torch.zeros([N, K, unitCount], { dtype: map.dtype }).scatterAdd(2, index, map.reshape([N, K, H * W]).contiguous());
      }
    }
  });
}
