// Superpixels of an 8-bit RGB image: SLIC (ours: Achanta et al. 2012, CIELAB, 10 iterations,
// connectivity enforced; deterministic), or a grid of rectangles of about a given size (no image
// needed). Selection's superpixel units (active/units.ts) and training-time label propagation are
// built on them.
import type { RgbImage } from './decode.js';

export interface Segmentation {
  /** Label of each pixel, row-major, 0..count-1 in raster order of first appearance. */
  labels: Int32Array;
  count: number;
}

/** Rectangles of about `size` pixels (rows and columns of equal size up to one pixel). */
export function gridSegments(size: { width: number; height: number }, cellPixels: number): Segmentation {
  const { width, height } = size;
  const side = Math.sqrt(cellPixels);
  const cols = Math.max(1, Math.min(width, Math.round(width / side)));
  const rows = Math.max(1, Math.min(height, Math.round(height / side)));
  const labels = new Int32Array(width * height);
  for (let y = 0; y < height; y++) {
    const r = Math.floor((y * rows) / height);
    for (let x = 0; x < width; x++) labels[y * width + x] = r * cols + Math.floor((x * cols) / width);
  }
  return { labels, count: rows * cols };
}

function srgbToLinear(v: number): number {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** CIELAB (D65) planes of an 8-bit sRGB image. */
export function rgbToLab(image: RgbImage): [Float32Array, Float32Array, Float32Array] {
  const n = image.width * image.height;
  const L = new Float32Array(n),
    A = new Float32Array(n),
    B = new Float32Array(n);
  const lin = new Float64Array(256);
  for (let v = 0; v < 256; v++) lin[v] = srgbToLinear(v);
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const d = image.data;
  for (let i = 0; i < n; i++) {
    const r = lin[d[3 * i]],
      g = lin[d[3 * i + 1]],
      b = lin[d[3 * i + 2]];
    const x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
    const y = 0.2126729 * r + 0.7151522 * g + 0.072175 * b;
    const z = (0.0193339 * r + 0.119192 * g + 0.9503041 * b) / 1.08883;
    const fx = f(x),
      fy = f(y),
      fz = f(z);
    L[i] = 116 * fy - 16;
    A[i] = 500 * (fx - fy);
    B[i] = 200 * (fy - fz);
  }
  return [L, A, B];
}

export interface SlicOptions {
  /** Target superpixel size in pixels. */
  size: number;
  /** Weight of space against colour (Lab units; 10 as in the paper). */
  compactness?: number;
  iterations?: number;
}

/**
 * SLIC superpixels (Achanta et al., TPAMI 2012): k-means in (L, a, b, x, y) with a 2S x 2S search
 * window per centre, S = sqrt(size); centres start on a regular grid moved to the lowest gradient
 * in their 3x3 neighbourhood; afterwards connected components are relabelled and fragments of
 * less than size/4 pixels merged into a neighbour. Deterministic.
 */
export function slic(image: RgbImage, options: SlicOptions): Segmentation {
  const { width: W, height: H } = image;
  const n = W * H;
  if (image.data.length !== 3 * n) throw new RangeError(`slic: image data has ${image.data.length} bytes for ${W}x${H} RGB`);
  const m = options.compactness ?? 10;
  const iterations = options.iterations ?? 10;
  const side = Math.sqrt(Math.max(1, options.size));
  const nx = Math.max(1, Math.min(W, Math.round(W / side)));
  const ny = Math.max(1, Math.min(H, Math.round(H / side)));
  const stepX = W / nx,
    stepY = H / ny;
  const S = Math.max(stepX, stepY);
  const [L, A, B] = rgbToLab(image);
  const grad = (x: number, y: number) => {
    const i = y * W + x;
    const xl = x > 0 ? i - 1 : i,
      xr = x < W - 1 ? i + 1 : i,
      yu = y > 0 ? i - W : i,
      yd = y < H - 1 ? i + W : i;
    const dx = (L[xr] - L[xl]) ** 2 + (A[xr] - A[xl]) ** 2 + (B[xr] - B[xl]) ** 2;
    const dy = (L[yd] - L[yu]) ** 2 + (A[yd] - A[yu]) ** 2 + (B[yd] - B[yu]) ** 2;
    return dx + dy;
  };
  const K = nx * ny;
  const cl = new Float64Array(K),
    ca = new Float64Array(K),
    cb = new Float64Array(K),
    cx = new Float64Array(K),
    cy = new Float64Array(K);
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      let bx = Math.min(W - 1, Math.floor((i + 0.5) * stepX));
      let by = Math.min(H - 1, Math.floor((j + 0.5) * stepY));
      let best = grad(bx, by);
      const x0 = bx,
        y0 = by;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const x = x0 + dx,
            y = y0 + dy;
          if (x < 0 || y < 0 || x >= W || y >= H) continue;
          const g = grad(x, y);
          if (g < best) {
            best = g;
            bx = x;
            by = y;
          }
        }
      }
      const k = j * nx + i,
        p = by * W + bx;
      cl[k] = L[p];
      ca[k] = A[p];
      cb[k] = B[p];
      cx[k] = bx;
      cy[k] = by;
    }
  }
  const labels = new Int32Array(n).fill(-1);
  const dist = new Float64Array(n);
  const spatial = (m * m) / (S * S);
  const win = Math.ceil(S);
  const sums = new Float64Array(K * 6);
  for (let it = 0; it < iterations; it++) {
    dist.fill(Infinity);
    for (let k = 0; k < K; k++) {
      const xa = Math.max(0, Math.floor(cx[k] - win)),
        xb = Math.min(W - 1, Math.ceil(cx[k] + win));
      const ya = Math.max(0, Math.floor(cy[k] - win)),
        yb = Math.min(H - 1, Math.ceil(cy[k] + win));
      for (let y = ya; y <= yb; y++) {
        const dy2 = (y - cy[k]) ** 2;
        for (let x = xa; x <= xb; x++) {
          const p = y * W + x;
          const dc = (L[p] - cl[k]) ** 2 + (A[p] - ca[k]) ** 2 + (B[p] - cb[k]) ** 2;
          const D = dc + ((x - cx[k]) ** 2 + dy2) * spatial;
          if (D < dist[p]) {
            dist[p] = D;
            labels[p] = k;
          }
        }
      }
    }
    sums.fill(0);
    for (let p = 0; p < n; p++) {
      let k = labels[p];
      if (k < 0) {
        // Outside every window (only with very uneven grids): the nearest centre in space.
        let best = Infinity;
        const x = p % W,
          y = (p - x) / W;
        for (let q = 0; q < K; q++) {
          const d2 = (x - cx[q]) ** 2 + (y - cy[q]) ** 2;
          if (d2 < best) {
            best = d2;
            k = q;
          }
        }
        labels[p] = k;
      }
      const o = k * 6;
      sums[o] += L[p];
      sums[o + 1] += A[p];
      sums[o + 2] += B[p];
      sums[o + 3] += p % W;
      sums[o + 4] += Math.floor(p / W);
      sums[o + 5] += 1;
    }
    for (let k = 0; k < K; k++) {
      const o = k * 6,
        c = sums[o + 5];
      if (c === 0) continue;
      cl[k] = sums[o] / c;
      ca[k] = sums[o + 1] / c;
      cb[k] = sums[o + 2] / c;
      cx[k] = sums[o + 3] / c;
      cy[k] = sums[o + 4] / c;
    }
  }
  return enforceConnectivity(labels, W, H, Math.max(1, Math.floor(options.size / 4)));
}

/**
 * Relabels 4-connected components in raster order; a component smaller than `minSize` joins the
 * component of a 4-neighbour of its first pixel that was labelled before it (as SLIC's reference
 * implementation does).
 */
export function enforceConnectivity(old: Int32Array, W: number, H: number, minSize: number): Segmentation {
  const n = W * H;
  const out = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n);
  const component = new Int32Array(n);
  let next = 0;
  for (let start = 0; start < n; start++) {
    if (out[start] >= 0) continue;
    const sx = start % W,
      sy = (start - sx) / W;
    let adjacent = -1;
    if (sx > 0 && out[start - 1] >= 0) adjacent = out[start - 1];
    else if (sy > 0 && out[start - W] >= 0) adjacent = out[start - W];
    else if (sx < W - 1 && out[start + 1] >= 0) adjacent = out[start + 1];
    else if (sy < H - 1 && out[start + W] >= 0) adjacent = out[start + W];
    const label = old[start];
    let top = 0,
      size = 0;
    stack[top++] = start;
    out[start] = next;
    while (top > 0) {
      const p = stack[--top];
      component[size++] = p;
      const x = p % W;
      const push = (q: number) => {
        if (out[q] < 0 && old[q] === label) {
          out[q] = next;
          stack[top++] = q;
        }
      };
      if (x > 0) push(p - 1);
      if (x < W - 1) push(p + 1);
      if (p >= W) push(p - W);
      if (p < n - W) push(p + W);
    }
    if (size < minSize && adjacent >= 0) {
      for (let i = 0; i < size; i++) out[component[i]] = adjacent;
    } else {
      next++;
    }
  }
  return { labels: out, count: next };
}
