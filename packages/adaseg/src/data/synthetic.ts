// A built-in synthetic domain pair: street-like scenes drawn procedurally with exact per-pixel
// labels, rendered in a "source" style (flat colours, clean edges) or a "target" style (textures,
// dusk lighting, people as dark silhouettes, a colour cast, sensor noise, blur). The scene layout
// depends on the seed only, so both styles draw from one scene distribution; only the look
// differs. No files, deterministic.
import { type ClassList, identityMapping, IGNORE_INDEX } from './classes.js';
import type { DatasetDescription, Sample, SyntheticScene, SyntheticStyle } from './dataset.js';
import { hashSeed, Rng } from './rng.js';

export const SYNTHETIC_CLASSES: ClassList = {
  names: ['sky', 'road', 'building', 'vehicle', 'person', 'vegetation'],
  palette: [
    [70, 130, 180],
    [128, 64, 128],
    [70, 70, 70],
    [0, 0, 142],
    [220, 20, 60],
    [107, 142, 35],
  ],
};
const SKY = 0,
  ROAD = 1,
  BUILDING = 2,
  VEHICLE = 3,
  PERSON = 4,
  VEGETATION = 5;

interface Part {
  shape: 'rect' | 'ellipse';
  // Normalised [0, 1] coordinates (may overhang the frame).
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

interface SceneObject {
  cls: number;
  parts: Part[];
  /** Seed of this object's colour and texture. */
  look: number;
}

interface Layout {
  horizon: number;
  vanishX: number;
  roadTopHalf: number;
  roadBottomLeft: number;
  roadBottomRight: number;
  objects: SceneObject[];
}

function rect(x0: number, y0: number, x1: number, y1: number): Part {
  return { shape: 'rect', x0, y0, x1, y1 };
}
function ellipse(cx: number, cy: number, rx: number, ry: number): Part {
  return { shape: 'ellipse', x0: cx - rx, y0: cy - ry, x1: cx + rx, y1: cy + ry };
}

function roadSpan(l: Layout, y: number): [number, number] {
  const t = (y - l.horizon) / (1 - l.horizon);
  const left = l.vanishX - l.roadTopHalf + t * (l.roadBottomLeft - (l.vanishX - l.roadTopHalf));
  const right = l.vanishX + l.roadTopHalf + t * (l.roadBottomRight - (l.vanishX + l.roadTopHalf));
  return [left, right];
}

/** The scene of a seed, in normalised coordinates: independent of size and style. */
function layout(seed: number): Layout {
  const rng = new Rng(hashSeed(seed, 0x5ce7e));
  const horizon = rng.uniform(0.38, 0.55);
  const l: Layout = {
    horizon,
    vanishX: rng.uniform(0.35, 0.65),
    roadTopHalf: rng.uniform(0.03, 0.08),
    roadBottomLeft: rng.uniform(-0.35, 0.15),
    roadBottomRight: rng.uniform(0.85, 1.35),
    objects: [],
  };
  const look = () => rng.uint32();
  // Buildings along the horizon, with gaps of sky.
  for (let x = rng.uniform(-0.08, 0.02); x < 1;) {
    const w = rng.uniform(0.08, 0.24);
    if (rng.bool(0.8)) {
      const h = rng.uniform(0.1, 0.4);
      const parts = [rect(x, horizon - h, x + w, horizon + 0.02)];
      if (rng.bool(0.35)) parts.push(rect(x + w * 0.25, horizon - h - rng.uniform(0.03, 0.08), x + w * 0.75, horizon - h + 0.01));
      l.objects.push({ cls: BUILDING, parts, look: look() });
    }
    x += w + (rng.bool(0.25) ? rng.uniform(0.02, 0.08) : 0);
  }
  // Bushes on the horizon line, trees on the verges.
  const bushes = rng.intBetween(0, 3);
  for (let i = 0; i < bushes; i++) {
    const cx = rng.next();
    l.objects.push({ cls: VEGETATION, parts: [ellipse(cx, horizon + 0.01, rng.uniform(0.04, 0.12), rng.uniform(0.02, 0.05))], look: look() });
  }
  const movers: { y: number; obj: SceneObject }[] = [];
  const trees = rng.intBetween(1, 4);
  for (let i = 0; i < trees; i++) {
    const y = rng.uniform(horizon + 0.03, 0.92);
    const p = (y - horizon) / (1 - horizon);
    const s = 0.12 + 0.45 * p;
    const [left, right] = roadSpan(l, y);
    const cx = rng.bool()
      ? rng.uniform(Math.min(-0.05, left - 0.2), Math.max(0, left - s * 0.3))
      : rng.uniform(Math.min(1, right + s * 0.3), Math.max(1.05, right + 0.2));
    movers.push({
      y,
      obj: {
        cls: VEGETATION,
        parts: [rect(cx - s * 0.05, y - s * 0.9, cx + s * 0.05, y), ellipse(cx, y - s * 1.05, s * rng.uniform(0.3, 0.45), s * rng.uniform(0.35, 0.5))],
        look: look(),
      },
    });
  }
  // Vehicles on the road, people anywhere on the ground; size follows perspective.
  const vehicles = rng.intBetween(0, 3);
  for (let i = 0; i < vehicles; i++) {
    const y = rng.uniform(horizon + 0.06, 0.98);
    const p = (y - horizon) / (1 - horizon);
    const w = 0.06 + 0.38 * p;
    const h = w * rng.uniform(0.55, 0.75);
    const [left, right] = roadSpan(l, y);
    const cx = rng.uniform(left + w * 0.4, Math.max(left + w * 0.4, right - w * 0.4));
    movers.push({
      y,
      obj: {
        cls: VEHICLE,
        parts: [
          rect(cx - w / 2, y - h * 0.62, cx + w / 2, y - h * 0.12),
          rect(cx - w * 0.32, y - h, cx + w * 0.3, y - h * 0.55),
          ellipse(cx - w * 0.3, y - h * 0.12, w * 0.1, h * 0.13),
          ellipse(cx + w * 0.3, y - h * 0.12, w * 0.1, h * 0.13),
        ],
        look: look(),
      },
    });
  }
  const people = rng.intBetween(0, 3);
  for (let i = 0; i < people; i++) {
    const y = rng.uniform(horizon + 0.04, 0.98);
    const p = (y - horizon) / (1 - horizon);
    const h = 0.07 + 0.32 * p;
    const w = h * 0.3;
    const cx = rng.uniform(0.03, 0.97);
    movers.push({
      y,
      obj: {
        cls: PERSON,
        parts: [
          ellipse(cx, y - h * 0.9, w * 0.3, h * 0.1),
          rect(cx - w / 2, y - h * 0.8, cx + w / 2, y - h * 0.42),
          rect(cx - w * 0.42, y - h * 0.44, cx - w * 0.06, y),
          rect(cx + w * 0.06, y - h * 0.44, cx + w * 0.42, y),
        ],
        look: look(),
      },
    });
  }
  movers.sort((a, b) => a.y - b.y);
  for (const m of movers) l.objects.push(m.obj);
  return l;
}

export interface RenderedScene {
  width: number;
  height: number;
  /** RGB, row-major, 3 bytes per pixel. */
  image: Uint8Array;
  /** Synthetic class ids (index into SYNTHETIC_CLASSES), one byte per pixel. */
  label: Uint8Array;
}

// Object slots 0 and 1 are the sky and the road/grass ground; scene objects start at 2.
const SLOT_SKY = 0,
  SLOT_GROUND = 1;

/** Draws the labels (and which object owns each pixel). */
function rasterise(l: Layout, width: number, height: number): { label: Uint8Array; owner: Uint16Array } {
  const label = new Uint8Array(width * height);
  const owner = new Uint16Array(width * height);
  const hy = l.horizon * height;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const fy = (y + 0.5) / height;
    if (y + 0.5 < hy) {
      label.fill(SKY, row, row + width);
      owner.fill(SLOT_SKY, row, row + width);
      continue;
    }
    const [left, right] = roadSpan(l, fy);
    const xl = left * width;
    const xr = right * width;
    for (let x = 0; x < width; x++) {
      const cx = x + 0.5;
      label[row + x] = cx >= xl && cx < xr ? ROAD : VEGETATION;
      owner[row + x] = SLOT_GROUND;
    }
  }
  l.objects.forEach((obj, k) => {
    const slot = k + 2;
    for (const p of obj.parts) {
      const x0 = Math.max(0, Math.round(p.x0 * width));
      const x1 = Math.min(width, Math.round(p.x1 * width));
      const y0 = Math.max(0, Math.round(p.y0 * height));
      const y1 = Math.min(height, Math.round(p.y1 * height));
      if (p.shape === 'rect') {
        for (let y = y0; y < y1; y++) {
          label.fill(obj.cls, y * width + x0, y * width + x1);
          owner.fill(slot, y * width + x0, y * width + x1);
        }
      } else {
        const cx = ((p.x0 + p.x1) / 2) * width;
        const cy = ((p.y0 + p.y1) / 2) * height;
        const rx = ((p.x1 - p.x0) / 2) * width;
        const ry = ((p.y1 - p.y0) / 2) * height;
        if (rx <= 0 || ry <= 0) continue;
        for (let y = y0; y < y1; y++) {
          const dy = (y + 0.5 - cy) / ry;
          const half = 1 - dy * dy;
          if (half <= 0) continue;
          const span = Math.sqrt(half) * rx;
          const a = Math.max(x0, Math.ceil(cx - span - 0.5));
          const b = Math.min(x1, Math.floor(cx + span - 0.5) + 1);
          if (b > a) {
            label.fill(obj.cls, y * width + a, y * width + b);
            owner.fill(slot, y * width + a, y * width + b);
          }
        }
      }
    }
  });
  return { label, owner };
}

/** A cheap integer hash → [0, 1): per-pixel texture and noise without a generator's state. */
function hash3(x: number, y: number, s: number): number {
  let h = Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1) ^ Math.imul(s, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Flat colour of an object in the source style. */
function baseColour(cls: number, look: number): [number, number, number] {
  const r = new Rng(look);
  switch (cls) {
    case SKY:
      return [r.uniform(120, 160), r.uniform(170, 200), r.uniform(220, 245)];
    case ROAD: {
      const g = r.uniform(95, 120);
      return [g, g, g + r.uniform(0, 8)];
    }
    case BUILDING: {
      const g = r.uniform(120, 200);
      const warm = r.uniform(-20, 30);
      return [g + warm, g, g - warm * 0.6];
    }
    case VEHICLE:
      return r
        .pick([
          [200, 30, 30],
          [30, 60, 190],
          [230, 230, 235],
          [40, 40, 45],
          [220, 190, 40],
          [60, 150, 70],
        ] as [number, number, number][])
        .map((v) => v + r.uniform(-15, 15)) as [number, number, number];
    case PERSON:
      return r
        .pick([
          [230, 120, 40],
          [180, 40, 160],
          [240, 200, 60],
          [30, 170, 200],
        ] as [number, number, number][])
        .map((v) => v + r.uniform(-15, 15)) as [number, number, number];
    default:
      return [r.uniform(40, 80), r.uniform(140, 180), r.uniform(40, 70)];
  }
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Draws the scene of `spec.seed` at the given size in the given style. */
export function renderScene(spec: SyntheticScene): RenderedScene {
  const { width, height, style, seed } = spec;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`synthetic scene: size must be positive integers, got ${width}x${height}`);
  }
  const l = layout(seed);
  const { label, owner } = rasterise(l, width, height);
  const styleRng = new Rng(hashSeed(seed, style === 'source' ? 1 : 2, 0x57e1));
  // Per-slot colours: slot 0 sky, slot 1 ground (road or grass by label), then objects.
  const slots = l.objects.length + 2;
  const colours = new Float32Array(slots * 3);
  const grass = baseColour(VEGETATION, hashSeed(seed, 77));
  const road = baseColour(ROAD, hashSeed(seed, 78));
  const set = (slot: number, c: readonly number[]) => colours.set(c, slot * 3);
  set(SLOT_SKY, baseColour(SKY, hashSeed(seed, 76)));
  set(SLOT_GROUND, road);
  l.objects.forEach((o, k) => set(k + 2, baseColour(o.cls, o.look)));
  const image = new Uint8Array(width * height * 3);
  const hy = l.horizon * height;
  if (style === 'source') {
    for (let i = 0, n = width * height; i < n; i++) {
      const s = owner[i];
      const c = s === SLOT_GROUND && label[i] === VEGETATION ? grass : null;
      image[i * 3] = clampByte(c ? c[0] : colours[s * 3]);
      image[i * 3 + 1] = clampByte(c ? c[1] : colours[s * 3 + 1]);
      image[i * 3 + 2] = clampByte(c ? c[2] : colours[s * 3 + 2]);
    }
    return { width, height, image, label };
  }
  // Target style: dusk light, a colour cast, textures per class (people: silhouettes), noise, then blur.
  const light = styleRng.uniform(0.42, 0.6);
  const cast = [styleRng.uniform(-5, 25), styleRng.uniform(-15, 5), styleRng.uniform(5, 35)];
  const noise = styleRng.uniform(6, 11);
  const tex = hashSeed(seed, 0x7e47);
  const img = new Float32Array(width * height * 3);
  const cell = Math.max(2, Math.round(Math.min(width, height) / 40));
  for (let y = 0; y < height; y++) {
    const skyT = Math.min(1, Math.max(0, (y + 0.5) / Math.max(1, hy)));
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const s = owner[i];
      const cls = label[i];
      const isGrass = s === SLOT_GROUND && cls === VEGETATION;
      let r = isGrass ? grass[0] : colours[s * 3];
      let g = isGrass ? grass[1] : colours[s * 3 + 1];
      let b = isGrass ? grass[2] : colours[s * 3 + 2];
      let k = 1;
      switch (cls) {
        case SKY: {
          // Dusk gradient: deep blue above, paler towards the horizon. (An orange glow band made
          // the sky's lower half a confident "building" after adaptation: an error over large
          // uniform areas that uncertainty-driven selection never buys and random selection does.)
          r = r * (0.45 + 0.3 * skyT);
          g = g * (0.45 + 0.25 * skyT);
          b = b * (0.75 + 0.1 * skyT);
          break;
        }
        case BUILDING: {
          // A grid of windows, some lit.
          const wx = Math.floor(x / (cell * 2)),
            wy = Math.floor(y / (cell * 2));
          const inWindow = x % (cell * 2) < cell && y % (cell * 2) < cell;
          if (inWindow) {
            if (hash3(wx, wy, tex + s) < 0.3) {
              r = 255;
              g = 220;
              b = 120;
            } else k = 0.45;
          }
          break;
        }
        case ROAD:
          k = 0.85 + 0.3 * hash3(x >> 1, y >> 1, tex);
          break;
        case VEGETATION:
          k = 0.55 + 0.9 * hash3(x, y, tex + 1);
          break;
        case VEHICLE: {
          k = 0.8 + 0.4 * hash3(x >> 2, y >> 2, tex + 2);
          break;
        }
        default: {
          // People at dusk are dark, colourless silhouettes; the source only shows bright clothes.
          // No adaptation without labels can tie the two; a few labelled regions on people can,
          // and they are small: the shift where choosing which regions to label matters.
          const grey = (0.12 * (r + g + b)) / 3 + 30;
          r = g = b = grey;
          k = 0.8 + 0.4 * hash3(x, y >> 1, tex + 3);
        }
      }
      const n = noise * (hash3(x, y, tex + 9) + hash3(x, y, tex + 10) + hash3(x, y, tex + 11) - 1.5) * 2;
      img[i * 3] = r * k * light + cast[0] + n;
      img[i * 3 + 1] = g * k * light + cast[1] + n;
      img[i * 3 + 2] = b * k * light + cast[2] + n;
    }
  }
  boxBlur3(img, width, height);
  for (let i = 0; i < img.length; i++) image[i] = clampByte(img[i]);
  return { width, height, image, label };
}

/** A separable 3x3 box blur in place (edges clamp). */
function boxBlur3(img: Float32Array, width: number, height: number): void {
  const tmp = new Float32Array(img.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const xl = x > 0 ? x - 1 : 0,
        xr = x < width - 1 ? x + 1 : x;
      for (let c = 0; c < 3; c++) {
        const row = y * width;
        tmp[(row + x) * 3 + c] = (img[(row + xl) * 3 + c] + img[(row + x) * 3 + c] + img[(row + xr) * 3 + c]) / 3;
      }
    }
  }
  for (let y = 0; y < height; y++) {
    const yu = y > 0 ? y - 1 : 0,
      yd = y < height - 1 ? y + 1 : y;
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        img[(y * width + x) * 3 + c] = (tmp[(yu * width + x) * 3 + c] + tmp[(y * width + x) * 3 + c] + tmp[(yd * width + x) * 3 + c]) / 3;
      }
    }
  }
}

export interface SyntheticOptions {
  style: SyntheticStyle;
  /** Number of scenes. */
  count: number;
  width: number;
  height: number;
  seed?: number;
}

/** The seed of scene `index` of a synthetic dataset: source and target never share scenes. */
export function sceneSeed(seed: number, style: SyntheticStyle, index: number): number {
  return hashSeed(seed, style === 'source' ? 0x50 : 0x7a, index);
}

/** A synthetic dataset of `count` scenes in one style (no files: scenes are drawn when loaded). */
export function syntheticDataset(options: SyntheticOptions): DatasetDescription {
  const { style, count, width, height } = options;
  const seed = options.seed ?? 0;
  const samples: Sample[] = [];
  for (let i = 0; i < count; i++) {
    samples.push({
      id: `${style}-${String(i).padStart(5, '0')}`,
      image: { kind: 'synthetic', scene: { seed: sceneSeed(seed, style, i), width, height, style } },
      label: { kind: 'synthetic' },
    });
  }
  return {
    name: `synthetic-${style}`,
    format: 'synthetic',
    split: style,
    root: null,
    classes: SYNTHETIC_CLASSES,
    ignoreIndex: IGNORE_INDEX,
    mapping: identityMapping(SYNTHETIC_CLASSES.names.length),
    encoding: { kind: 'value', channel: 0 },
    onUndeclared: 'error',
    samples,
  };
}

/** The source and target halves of the synthetic domain pair, on one class list. */
export function syntheticPair(options: Omit<SyntheticOptions, 'style'> & { targetCount?: number }): { source: DatasetDescription; target: DatasetDescription } {
  return {
    source: syntheticDataset({ ...options, style: 'source' }),
    target: syntheticDataset({ ...options, count: options.targetCount ?? options.count, style: 'target' }),
  };
}
