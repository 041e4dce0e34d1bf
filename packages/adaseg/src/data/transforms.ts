// Seeded augmentations on decoded arrays (8-bit RGB images, train-id labels), and the final
// layout into normalised float CHW. Geometry changes image and label together: bilinear for the
// image, nearest for the label, padding with ignore. Randomness comes only from the Rng passed in.
import { IGNORE_INDEX } from './classes.js';
import type { LabelImage, RgbImage } from './decode.js';
import { DataError } from './errors.js';
import type { Rng } from './rng.js';

export type Transform =
  /** Resize to exactly width x height. */
  | { kind: 'resize'; width: number; height: number }
  /** Scale both sides by a factor drawn uniformly from [min, max]. */
  | { kind: 'randomScale'; min: number; max: number }
  /** A random width x height window; smaller inputs are padded (image black, label ignore). */
  | { kind: 'randomCrop'; width: number; height: number }
  /** The centre width x height window (padded like randomCrop): for evaluation. */
  | { kind: 'centerCrop'; width: number; height: number }
  /** Mirror left-right with probability p (default 0.5). */
  | { kind: 'hflip'; p?: number }
  /**
   * Brightness, contrast and saturation factors drawn from [1-v, 1+v], hue shift from [-v, v] of a
   * full turn (v <= 0.5), as torchvision's ColorJitter; applied with probability p (default 1).
   */
  | { kind: 'colorJitter'; brightness?: number; contrast?: number; saturation?: number; hue?: number; p?: number };

export type TransformKind = Transform['kind'];

/** Per-channel mean and std in [0, 1] units: out = (pixel / 255 - mean) / std. */
export interface Normalize {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export const IMAGENET_NORMALIZE: Normalize = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
/** Pixels / 255, no centring. */
export const UNIT_NORMALIZE: Normalize = { mean: [0, 0, 0], std: [1, 1, 1] };

export interface Pair {
  image: RgbImage;
  label: LabelImage | null;
}

// ---- checking config input ----

function fail(where: string, message: string): never {
  throw new DataError('bad-config', `${where}: ${message}`);
}

function num(
  where: string,
  obj: Record<string, unknown>,
  key: string,
  opts: { min?: number; max?: number; int?: boolean; optional?: boolean } = {},
): number | undefined {
  const v = obj[key];
  if (v === undefined) {
    if (opts.optional) return undefined;
    fail(where, `'${key}' is required`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, `'${key}' must be a number, got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`);
  if (opts.int && !Number.isInteger(v)) fail(where, `'${key}' must be an integer, got ${v}`);
  if (opts.min !== undefined && v < opts.min) fail(where, `'${key}' must be >= ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) fail(where, `'${key}' must be <= ${opts.max}, got ${v}`);
  return v;
}

function only(where: string, obj: Record<string, unknown>, keys: string[]): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) fail(where, `unknown key '${k}' (expected ${keys.join(', ')})`);
}

/** Checks one transform given as plain data (e.g. from JSON); throws a bad-config DataError. */
export function parseTransform(value: unknown, where = 'transform'): Transform {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(where, `expected an object with a 'kind', got ${JSON.stringify(value)}`);
  const o = value as Record<string, unknown>;
  switch (o.kind) {
    case 'resize':
    case 'randomCrop':
    case 'centerCrop': {
      only(where, o, ['kind', 'width', 'height']);
      return { kind: o.kind, width: num(where, o, 'width', { int: true, min: 1 })!, height: num(where, o, 'height', { int: true, min: 1 })! };
    }
    case 'randomScale': {
      only(where, o, ['kind', 'min', 'max']);
      const min = num(where, o, 'min', { min: 0.01, max: 100 })!;
      const max = num(where, o, 'max', { min, max: 100 })!;
      return { kind: 'randomScale', min, max };
    }
    case 'hflip': {
      only(where, o, ['kind', 'p']);
      return { kind: 'hflip', p: num(where, o, 'p', { min: 0, max: 1, optional: true }) ?? 0.5 };
    }
    case 'colorJitter': {
      only(where, o, ['kind', 'brightness', 'contrast', 'saturation', 'hue', 'p']);
      return {
        kind: 'colorJitter',
        brightness: num(where, o, 'brightness', { min: 0, max: 1, optional: true }) ?? 0,
        contrast: num(where, o, 'contrast', { min: 0, max: 1, optional: true }) ?? 0,
        saturation: num(where, o, 'saturation', { min: 0, max: 1, optional: true }) ?? 0,
        hue: num(where, o, 'hue', { min: 0, max: 0.5, optional: true }) ?? 0,
        p: num(where, o, 'p', { min: 0, max: 1, optional: true }) ?? 1,
      };
    }
    default:
      fail(where, `unknown kind ${JSON.stringify(o.kind)} (expected resize, randomScale, randomCrop, centerCrop, hflip, colorJitter)`);
  }
}

export function parseTransforms(value: unknown, where = 'transforms'): Transform[] {
  if (!Array.isArray(value)) fail(where, `expected an array, got ${JSON.stringify(value)}`);
  return value.map((t, i) => parseTransform(t, `${where}[${i}]`));
}

export function parseNormalize(value: unknown, where = 'normalize'): Normalize {
  if (value === 'imagenet') return IMAGENET_NORMALIZE;
  if (value === 'none' || value === 'unit') return UNIT_NORMALIZE;
  if (value === null || typeof value !== 'object') fail(where, `expected 'imagenet', 'none' or { mean, std }, got ${JSON.stringify(value)}`);
  const o = value as Record<string, unknown>;
  only(where, o, ['mean', 'std']);
  const triple = (key: string, positive: boolean): [number, number, number] => {
    const v = o[key];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
      fail(where, `'${key}' must be three ${positive ? 'positive ' : ''}numbers, got ${JSON.stringify(v)}`);
    }
    return [v[0], v[1], v[2]];
  };
  return { mean: triple('mean', false), std: triple('std', true) };
}

// ---- geometry ----

/**
 * The window [x0, x0+cw) x [y0, y0+ch) of the image resized to width x height, computed without
 * making the whole resized image (bilinear, half-pixel centres as PIL/OpenCV/align_corners=false).
 * Parts of the window outside the resized image are black.
 */
export function resizeImageWindow(img: RgbImage, width: number, height: number, x0: number, y0: number, cw: number, ch: number): RgbImage {
  const { width: sw, height: sh, data: src } = img;
  const out = new Uint8Array(cw * ch * 3);
  const sx = sw / width;
  const sy = sh / height;
  const xa = Math.max(0, -x0),
    xb = Math.min(cw, width - x0);
  const x0s = new Int32Array(cw);
  const x1s = new Int32Array(cw);
  const wxs = new Float32Array(cw);
  for (let i = xa; i < xb; i++) {
    let fx = (x0 + i + 0.5) * sx - 0.5;
    if (fx < 0) fx = 0;
    const xs = Math.min(sw - 1, Math.floor(fx));
    x0s[i] = xs * 3;
    x1s[i] = Math.min(sw - 1, xs + 1) * 3;
    wxs[i] = fx - xs;
  }
  for (let j = Math.max(0, -y0); j < Math.min(ch, height - y0); j++) {
    let fy = (y0 + j + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    const ys = Math.min(sh - 1, Math.floor(fy));
    const r0 = ys * sw * 3;
    const r1 = Math.min(sh - 1, ys + 1) * sw * 3;
    const wy = fy - ys;
    let o = (j * cw + xa) * 3;
    for (let i = xa; i < xb; i++) {
      const a = x0s[i],
        b = x1s[i],
        wx = wxs[i];
      for (let c = 0; c < 3; c++) {
        const top = src[r0 + a + c] + (src[r0 + b + c] - src[r0 + a + c]) * wx;
        const bot = src[r1 + a + c] + (src[r1 + b + c] - src[r1 + a + c]) * wx;
        out[o++] = (top + (bot - top) * wy + 0.5) | 0;
      }
    }
  }
  return { width: cw, height: ch, data: out };
}

/** The same window of the label map resized by nearest neighbour (never mixes ids); outside is ignore. */
export function resizeLabelWindow(lab: LabelImage, width: number, height: number, x0: number, y0: number, cw: number, ch: number): LabelImage {
  const { width: sw, height: sh, data: src } = lab;
  const out = new Uint8Array(cw * ch).fill(IGNORE_INDEX);
  const xa = Math.max(0, -x0),
    xb = Math.min(cw, width - x0);
  const xs = new Int32Array(cw);
  for (let i = xa; i < xb; i++) xs[i] = Math.min(sw - 1, Math.floor(((x0 + i + 0.5) * sw) / width));
  for (let j = Math.max(0, -y0); j < Math.min(ch, height - y0); j++) {
    const row = Math.min(sh - 1, Math.floor(((y0 + j + 0.5) * sh) / height)) * sw;
    const o = j * cw;
    for (let i = xa; i < xb; i++) out[o + i] = src[row + xs[i]];
  }
  return { width: cw, height: ch, data: out };
}

/** Bilinear resize of an RGB image. */
export function resizeImage(img: RgbImage, width: number, height: number): RgbImage {
  if (img.width === width && img.height === height) return img;
  return resizeImageWindow(img, width, height, 0, 0, width, height);
}

/** Nearest-neighbour resize of a label map. */
export function resizeLabel(lab: LabelImage, width: number, height: number): LabelImage {
  if (lab.width === width && lab.height === height) return lab;
  return resizeLabelWindow(lab, width, height, 0, 0, width, height);
}

/** The window [x, x+w) x [y, y+h) of a pair; parts outside the input are black / ignore. */
export function cropPair(pair: Pair, x: number, y: number, w: number, h: number): Pair {
  const { image } = pair;
  const img = new Uint8Array(w * h * 3);
  const lab = pair.label === null ? null : new Uint8Array(w * h).fill(IGNORE_INDEX);
  const xa = Math.max(0, x),
    xb = Math.min(image.width, x + w);
  for (let yy = Math.max(0, y); yy < Math.min(image.height, y + h); yy++) {
    if (xb <= xa) break;
    const dst = (yy - y) * w + (xa - x);
    img.set(image.data.subarray((yy * image.width + xa) * 3, (yy * image.width + xb) * 3), dst * 3);
    if (lab !== null) lab.set(pair.label!.data.subarray(yy * image.width + xa, yy * image.width + xb), dst);
  }
  return { image: { width: w, height: h, data: img }, label: lab === null ? null : { width: w, height: h, data: lab } };
}

export function flipPair(pair: Pair): Pair {
  const { width, height, data } = pair.image;
  const img = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const s = (row + x) * 3,
        d = (row + width - 1 - x) * 3;
      img[d] = data[s];
      img[d + 1] = data[s + 1];
      img[d + 2] = data[s + 2];
    }
  }
  let label: LabelImage | null = null;
  if (pair.label !== null) {
    const src = pair.label.data;
    const lab = new Uint8Array(src.length);
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let x = 0; x < width; x++) lab[row + width - 1 - x] = src[row + x];
    }
    label = { width, height, data: lab };
  }
  return { image: { width, height, data: img }, label };
}

// ---- colour ----

/**
 * Colour jitter in one pass: brightness (scale), contrast (blend with the mean gray), saturation
 * (blend with each pixel's gray), hue (rotation in YIQ space). Returns a new image.
 */
export function jitterImage(img: RgbImage, f: { brightness: number; contrast: number; saturation: number; hue: number }): RgbImage {
  const { data } = img;
  const n = img.width * img.height;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += 0.299 * data[i * 3] + 0.587 * data[i * 3 + 1] + 0.114 * data[i * 3 + 2];
  const meanGray = (sum / Math.max(1, n)) * f.brightness;
  const theta = f.hue * 2 * Math.PI;
  const cos = Math.cos(theta),
    sin = Math.sin(theta);
  // Hue rotation about the gray axis, as one RGB matrix (YIQ rotation).
  const m = hueMatrix(cos, sin);
  const out = new Uint8Array(data.length);
  const b = f.brightness,
    c = f.contrast,
    s = f.saturation;
  const doHue = f.hue !== 0;
  for (let i = 0; i < n; i++) {
    let r = data[i * 3] * b,
      g = data[i * 3 + 1] * b,
      bl = data[i * 3 + 2] * b;
    r = meanGray + (r - meanGray) * c;
    g = meanGray + (g - meanGray) * c;
    bl = meanGray + (bl - meanGray) * c;
    const gray = 0.299 * r + 0.587 * g + 0.114 * bl;
    r = gray + (r - gray) * s;
    g = gray + (g - gray) * s;
    bl = gray + (bl - gray) * s;
    if (doHue) {
      const r2 = m[0] * r + m[1] * g + m[2] * bl;
      const g2 = m[3] * r + m[4] * g + m[5] * bl;
      const b2 = m[6] * r + m[7] * g + m[8] * bl;
      r = r2;
      g = g2;
      bl = b2;
    }
    out[i * 3] = r <= 0 ? 0 : r >= 255 ? 255 : (r + 0.5) | 0;
    out[i * 3 + 1] = g <= 0 ? 0 : g >= 255 ? 255 : (g + 0.5) | 0;
    out[i * 3 + 2] = bl <= 0 ? 0 : bl >= 255 ? 255 : (bl + 0.5) | 0;
  }
  return { width: img.width, height: img.height, data: out };
}

function hueMatrix(cos: number, sin: number): number[] {
  // RGB -> YIQ, rotate I/Q by theta, YIQ -> RGB.
  const T = [0.299, 0.587, 0.114, 0.596, -0.274, -0.322, 0.211, -0.523, 0.312];
  const Ti = [1, 0.956, 0.621, 1, -0.272, -0.647, 1, -1.106, 1.703];
  const R = [1, 0, 0, 0, cos, -sin, 0, sin, cos];
  const mul = (a: number[], b: number[]) => {
    const o = new Array<number>(9).fill(0);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) o[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
    return o;
  };
  return mul(Ti, mul(R, T));
}

// ---- the pipeline ----

/** Applies transforms in order; every random draw comes from rng, so a seed fixes the result. */
export function applyTransforms(pair: Pair, transforms: readonly Transform[], rng: Rng): Pair {
  let p = pair;
  for (let k = 0; k < transforms.length; k++) {
    const t = transforms[k];
    switch (t.kind) {
      case 'resize':
        p = { image: resizeImage(p.image, t.width, t.height), label: p.label && resizeLabel(p.label, t.width, t.height) };
        break;
      case 'randomScale': {
        const s = rng.uniform(t.min, t.max);
        const w = Math.max(1, Math.round(p.image.width * s));
        const h = Math.max(1, Math.round(p.image.height * s));
        const next = transforms[k + 1];
        if (next?.kind === 'randomCrop') {
          // Scale then crop, fused: only the window is resampled (same draws, same pixels).
          const x = w > next.width ? rng.int(w - next.width + 1) : 0;
          const y = h > next.height ? rng.int(h - next.height + 1) : 0;
          p = {
            image: resizeImageWindow(p.image, w, h, x, y, next.width, next.height),
            label: p.label && resizeLabelWindow(p.label, w, h, x, y, next.width, next.height),
          };
          k++;
        } else p = { image: resizeImage(p.image, w, h), label: p.label && resizeLabel(p.label, w, h) };
        break;
      }
      case 'randomCrop': {
        const x = p.image.width > t.width ? rng.int(p.image.width - t.width + 1) : 0;
        const y = p.image.height > t.height ? rng.int(p.image.height - t.height + 1) : 0;
        if (x !== 0 || y !== 0 || p.image.width !== t.width || p.image.height !== t.height) p = cropPair(p, x, y, t.width, t.height);
        break;
      }
      case 'centerCrop': {
        const x = Math.floor((p.image.width - t.width) / 2);
        const y = Math.floor((p.image.height - t.height) / 2);
        if (x !== 0 || y !== 0 || p.image.width !== t.width || p.image.height !== t.height) p = cropPair(p, x, y, t.width, t.height);
        break;
      }
      case 'hflip':
        if (rng.next() < (t.p ?? 0.5)) p = flipPair(p);
        break;
      case 'colorJitter': {
        // Draw all factors whether or not they apply, so one transform's draws never shift another's.
        const apply = rng.next() < (t.p ?? 1);
        const factor = (v: number | undefined) => {
          const u = rng.next();
          return v ? Math.max(0, 1 - v + 2 * v * u) : 1;
        };
        const brightness = factor(t.brightness);
        const contrast = factor(t.contrast);
        const saturation = factor(t.saturation);
        const hu = rng.next();
        const hue = t.hue ? -t.hue + 2 * t.hue * hu : 0;
        if (apply) p = { image: jitterImage(p.image, { brightness, contrast, saturation, hue }), label: p.label };
        break;
      }
      default: {
        const never: never = t;
        throw new DataError('bad-config', `unknown transform ${JSON.stringify(never)}`);
      }
    }
  }
  return p;
}

/** 8-bit HWC RGB → float32 CHW, normalised: (v / 255 - mean) / std. */
export function toCHW(img: RgbImage, norm: Normalize, out?: Float32Array): Float32Array {
  const n = img.width * img.height;
  const dst = out ?? new Float32Array(3 * n);
  const src = img.data;
  const lut = new Float32Array(256);
  for (let c = 0; c < 3; c++) {
    const mean = norm.mean[c],
      std = norm.std[c];
    for (let v = 0; v < 256; v++) lut[v] = (v / 255 - mean) / std;
    const base = c * n;
    for (let i = 0; i < n; i++) dst[base + i] = lut[src[i * 3 + c]];
  }
  return dst;
}
