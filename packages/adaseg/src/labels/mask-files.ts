// Label masks in and out of the label store as PNG files in a Cityscapes-like layout, so labels
// can be looked at, trained on elsewhere, or made in another tool and brought back
// (`adaseg labels export|import`):
//
//   <dir>/trainid/<image>_gtFine_labelTrainIds.png   8-bit gray: the train id, 255 = unlabelled
//   <dir>/color/<image>_gtFine_color.png             palette PNG: the dataset's class colours
//                                                    (index = train id), unlabelled drawn in
//                                                    `unlabelledColor` (black unless a class is)
//   <dir>/manifest.json                              classes, palette, ignore index, per image
//                                                    its files and labelled pixel counts
//
// Export writes every image of a run (each file to a temporary name, then renamed; the manifest
// last). Import reads and checks every file before the store is touched (unknown image, size,
// class ids, colours, corrupt PNGs: all problems are reported together) and then writes all
// masks in one store transaction (LabelStore.importMasks), so either every mask is imported or
// none is.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { IGNORE_INDEX } from '../data/classes.js';
import { decodePng, encodeGrayPng, encodeIndexedPng, PngError } from '../data/png.js';
import { AdasegError, type ErrorInfo } from '../errors.js';
import { TEMP_FILE, writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { type ImportedMask, type LabelStore, LabelStoreError, type MaskImportSummary, type RunInfo } from './store.js';

export const MASKS_FORMAT = 'adaseg-label-masks/1';
export const TRAINID_DIR = 'trainid';
export const COLOR_DIR = 'color';
export const TRAINID_SUFFIX = '_gtFine_labelTrainIds.png';
export const COLOR_SUFFIX = '_gtFine_color.png';
export const MANIFEST = 'manifest.json';

type Rgb = [number, number, number];
export type ExportFormat = 'trainid' | 'palette' | 'both';
/** Which files an import reads: train-id masks, colour masks, or both (train ids first). */
export type ImportFormat = 'auto' | 'trainid' | 'palette';

export interface MasksManifest {
  format: typeof MASKS_FORMAT;
  run: string;
  strategy: string;
  seed: number;
  exportedAt: string;
  classes: { id: number; name: string; color: Rgb }[];
  ignoreIndex: number;
  unlabelledColor: Rgb;
  files: { trainid: string | null; color: string | null };
  images: { id: string; width: number; height: number; trainid: string | null; color: string | null; labelledPixels: number; coveredPixels: number }[];
  totals: { images: number; labelledImages: number; labelledPixels: number; coveredPixels: number; pixels: number };
}

/**
 * The file name stem of an image id: the id itself (ids are the dataset's file stems), with path
 * separators, '%' and control characters percent-encoded so that any id gives one safe,
 * distinct file name.
 */
export function maskStem(imageId: string): string {
  return imageId.replace(/[%/\\\x00-\x1f]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}

const key = (c: readonly number[]) => (c[0] << 16) | (c[1] << 8) | c[2];

/** The colour of unlabelled pixels in colour masks: black, unless a class is black. */
export function unlabelledColour(palette: readonly (readonly number[])[]): Rgb {
  const used = new Set(palette.map(key));
  const candidates: Rgb[] = [
    [0, 0, 0],
    [255, 255, 255],
    [255, 0, 255],
    [0, 255, 255],
    [1, 1, 1],
  ];
  for (const c of candidates) if (!used.has(key(c))) return c;
  for (let v = 2; ; v++) if (!used.has(key([v, v, v]))) return [v, v, v];
}

/** The run of the store to work on: `name`, or the only one. */
export function chooseRun(store: LabelStore, name: string | undefined): RunInfo {
  const runs = store.runs();
  if (name !== undefined) {
    const found = runs.find((r) => r.name === name);
    if (found === undefined)
      throw new LabelStoreError(
        'not-found',
        `no run '${name}' in ${store.file}; it holds ${runs.length === 0 ? 'no runs' : runs.map((r) => `'${r.name}'`).join(', ')}`,
      );
    return found;
  }
  if (runs.length === 1) return runs[0];
  if (runs.length === 0) throw new LabelStoreError('not-found', `${store.file} holds no runs yet (a run appears when the loop starts its first strategy)`);
  throw new LabelStoreError('invalid', `${store.file} holds ${runs.length} runs (${runs.map((r) => `'${r.name}'`).join(', ')}): choose one with --name`);
}

export interface MaskExportResult {
  run: string;
  dir: string;
  manifest: string;
  images: number;
  labelledImages: number;
  labelledPixels: number;
  files: string[];
}

/** Writes every image of `run` as PNG masks into `dir` (see the file's header), then manifest.json. */
export function exportLabelMasks(store: LabelStore, run: string, dir: string, options: { format?: ExportFormat; now?: () => Date } = {}): MaskExportResult {
  const format = options.format ?? 'both';
  const info = store.run(run);
  const out = resolve(dir);
  const trainDir = format !== 'palette' ? join(out, TRAINID_DIR) : null;
  const colorDir = format !== 'trainid' ? join(out, COLOR_DIR) : null;
  for (const d of [out, trainDir, colorDir]) if (d !== null) mkdirSync(d, { recursive: true });
  const unlabelled = unlabelledColour(info.palette);
  // Index = train id; every index that is not a class (255 in particular) draws as unlabelled.
  const palette: Rgb[] = Array.from({ length: 256 }, (_, i) => (i < info.classNames.length ? ([...info.palette[i]] as Rgb) : unlabelled));
  const covered = store.coveredMasks(run);
  const files: string[] = [];
  const images: MasksManifest['images'] = [];
  for (const im of store.images(run)) {
    const { width, height, data } = store.mask(run, im.id);
    const stem = maskStem(im.id);
    let trainid: string | null = null,
      color: string | null = null;
    if (trainDir !== null) {
      trainid = `${TRAINID_DIR}/${stem}${TRAINID_SUFFIX}`;
      writeFileAtomic(join(out, trainid), encodeGrayPng(width, height, data));
      files.push(join(out, trainid));
    }
    if (colorDir !== null) {
      color = `${COLOR_DIR}/${stem}${COLOR_SUFFIX}`;
      writeFileAtomic(join(out, color), encodeIndexedPng(width, height, data, palette));
      files.push(join(out, color));
    }
    let labelled = 0;
    for (const v of data) if (v !== IGNORE_INDEX) labelled++;
    const cov = covered.get(im.id);
    images.push({ id: im.id, width, height, trainid, color, labelledPixels: labelled, coveredPixels: cov === undefined ? 0 : cov.reduce((s, v) => s + v, 0) });
  }
  const manifest: MasksManifest = {
    format: MASKS_FORMAT,
    run: info.name,
    strategy: info.strategy,
    seed: info.seed,
    exportedAt: (options.now?.() ?? new Date()).toISOString(),
    classes: info.classNames.map((name, id) => ({ id, name, color: [...info.palette[id]] as Rgb })),
    ignoreIndex: IGNORE_INDEX,
    unlabelledColor: unlabelled,
    files: {
      trainid: trainDir !== null ? `${TRAINID_DIR}/<image>${TRAINID_SUFFIX}` : null,
      color: colorDir !== null ? `${COLOR_DIR}/<image>${COLOR_SUFFIX}` : null,
    },
    images,
    totals: {
      images: images.length,
      labelledImages: images.filter((i) => i.labelledPixels > 0).length,
      labelledPixels: images.reduce((s, i) => s + i.labelledPixels, 0),
      coveredPixels: images.reduce((s, i) => s + i.coveredPixels, 0),
      pixels: images.reduce((s, i) => s + i.width * i.height, 0),
    },
  };
  const manifestFile = join(out, MANIFEST);
  writeJsonAtomic(manifestFile, manifest);
  return {
    run: info.name,
    dir: out,
    manifest: manifestFile,
    images: images.length,
    labelledImages: manifest.totals.labelledImages,
    labelledPixels: manifest.totals.labelledPixels,
    files,
  };
}

// ---------------------------------------------------------------- import

export type MaskProblemCode =
  'no-masks' | 'unknown-image' | 'duplicate' | 'unreadable' | 'bad-format' | 'size-mismatch' | 'bad-class' | 'unknown-colour' | 'disagree' | 'wrong-classes';

export interface MaskProblem {
  code: MaskProblemCode;
  /** The file (relative to the import folder), or the folder itself. */
  file: string;
  message: string;
}

/** Why an import was refused: every problem found, and nothing was written. */
export class MaskImportError extends AdasegError {
  constructor(
    readonly dir: string,
    readonly problems: MaskProblem[],
  ) {
    const shown = problems.slice(0, 20).map((p) => `  ${p.file}: ${p.message}`);
    if (problems.length > 20) shown.push(`  ... and ${problems.length - 20} more`);
    super('invalid-masks', `${problems.length} problem(s) in ${dir}; nothing was imported:\n${shown.join('\n')}`);
    this.name = 'MaskImportError';
  }

  override toInfo(): ErrorInfo {
    return { ...super.toInfo(), problems: this.problems };
  }
}

interface FoundFile {
  stem: string;
  /** Relative to the import folder. */
  file: string;
  path: string;
}

/** Mask files under `root` (sub-folders too, e.g. per city) whose names end in `suffix`; other files are returned apart. */
function findMasks(base: string, root: string, suffix: string, other: string[]): FoundFile[] {
  const out: FoundFile[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith(suffix) && entry.name.length > suffix.length)
        out.push({ stem: entry.name.slice(0, -suffix.length), file: relative(base, p), path: p });
      else if (!TEMP_FILE.test(entry.name)) other.push(relative(base, p));
    }
  };
  walk(root);
  return out;
}

/** Where a value first occurs, for messages. */
const at = (p: number, width: number) => `x=${p % width}, y=${Math.floor(p / width)}`;

interface Decoded {
  width: number;
  height: number;
  /** Train ids (255 unlabelled); null when the file has a problem (reported). */
  ids: Uint8Array | null;
}

/** A train-id PNG: 8-bit (or less) gray or palette indices, or RGB(A) with equal channels; 16-bit gray is read as its values. */
function decodeTrainIds(bytes: Uint8Array, classes: number, problem: (code: MaskProblemCode, message: string) => void): Decoded | null {
  let png;
  try {
    png = decodePng(bytes);
  } catch (err) {
    if (err instanceof PngError) return (problem('unreadable', `cannot decode: ${err.message}`), null);
    throw err;
  }
  const { width, height, colorType, channels } = png;
  const n = width * height;
  const values = new Uint16Array(n);
  if (colorType === 0 || colorType === 3 || colorType === 4) {
    for (let p = 0; p < n; p++) values[p] = png.data[p * channels];
  } else {
    if (png.bitDepth !== 8)
      return (
        problem('bad-format', `a ${png.bitDepth}-bit colour PNG: train-id masks are 8-bit gray (value = train id, 255 = unlabelled)`),
        { width, height, ids: null }
      );
    for (let p = 0; p < n; p++) {
      const r = png.data[p * channels],
        g = png.data[p * channels + 1],
        b = png.data[p * channels + 2];
      if (r !== g || g !== b)
        return (
          problem(
            'bad-format',
            `a colour image (pixel ${at(p, width)} is (${r}, ${g}, ${b})): train-id masks are 8-bit gray; colour masks go under ${COLOR_DIR}/ as <image>${COLOR_SUFFIX}`,
          ),
          { width, height, ids: null }
        );
      values[p] = r;
    }
  }
  const bad = new Map<number, { count: number; first: number }>();
  const ids = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    const v = values[p];
    if (v < classes || v === IGNORE_INDEX) ids[p] = v;
    else {
      const b = bad.get(v);
      if (b === undefined) bad.set(v, { count: 1, first: p });
      else b.count++;
    }
  }
  if (bad.size > 0) {
    const list = [...bad].sort((a, b) => a[0] - b[0]);
    const shown = list
      .slice(0, 5)
      .map(([v, b]) => `${v} (${b.count} px, first at ${at(b.first, width)})`)
      .join(', ');
    problem(
      'bad-class',
      `value${list.length > 1 ? 's' : ''} ${shown}${list.length > 5 ? ` and ${list.length - 5} more` : ''} ${list.length > 1 ? 'are' : 'is'} not a class id 0..${classes - 1} nor 255 (unlabelled)`,
    );
    return { width, height, ids: null };
  }
  return { width, height, ids };
}

/** PLTE (and tRNS) of a palette PNG. */
function pngPalette(bytes: Uint8Array): { colours: Rgb[]; alpha: Uint8Array | null } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let colours: Rgb[] | null = null;
  let alpha: Uint8Array | null = null;
  for (let pos = 8; pos + 8 <= bytes.length;) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    const data = bytes.subarray(pos + 8, pos + 8 + len);
    if (type === 'PLTE') colours = Array.from({ length: Math.floor(len / 3) }, (_, i) => [data[i * 3], data[i * 3 + 1], data[i * 3 + 2]] as Rgb);
    else if (type === 'tRNS') alpha = data;
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  if (colours === null) throw new PngError('corrupt PNG: a palette image without a PLTE chunk');
  return { colours, alpha };
}

/** A colour PNG mapped back to train ids through the classes' colours (and the unlabelled colour; transparent pixels are unlabelled). */
function decodeColours(
  bytes: Uint8Array,
  byColour: Map<number, number>,
  ambiguous: Map<number, string>,
  problem: (code: MaskProblemCode, message: string) => void,
): Decoded | null {
  let png,
    palette: ReturnType<typeof pngPalette> | null = null;
  try {
    png = decodePng(bytes);
    if (png.colorType === 3) palette = pngPalette(bytes);
  } catch (err) {
    if (err instanceof PngError) return (problem('unreadable', `cannot decode: ${err.message}`), null);
    throw err;
  }
  const { width, height, colorType, channels } = png;
  if (png.bitDepth === 16) return (problem('bad-format', 'a 16-bit PNG: colour masks are 8-bit RGB, RGBA or palette'), { width, height, ids: null });
  const n = width * height;
  const ids = new Uint8Array(n);
  const unknown = new Map<number, { count: number; first: number }>();
  const clash = new Map<number, { count: number; first: number }>();
  for (let p = 0; p < n; p++) {
    let r: number,
      g: number,
      b: number,
      a = 255;
    if (colorType === 3) {
      const index = png.data[p];
      const c = palette!.colours[index];
      if (c === undefined)
        return (
          problem('unreadable', `pixel ${at(p, width)} uses palette index ${index}, the palette has ${palette!.colours.length} colours`),
          { width, height, ids: null }
        );
      [r, g, b] = c;
      if (palette!.alpha !== null && index < palette!.alpha.length) a = palette!.alpha[index];
    } else if (colorType === 0 || colorType === 4) {
      r = g = b = png.data[p * channels];
      if (colorType === 4) a = png.data[p * channels + 1];
    } else {
      r = png.data[p * channels];
      g = png.data[p * channels + 1];
      b = png.data[p * channels + 2];
      if (colorType === 6) a = png.data[p * channels + 3];
    }
    if (a === 0) {
      ids[p] = IGNORE_INDEX;
      continue;
    }
    const k = (r << 16) | (g << 8) | b;
    const id = byColour.get(k);
    if (id !== undefined) {
      ids[p] = id;
      continue;
    }
    const seen = ambiguous.has(k) ? clash : unknown;
    const e = seen.get(k);
    if (e === undefined) seen.set(k, { count: 1, first: p });
    else e.count++;
  }
  const rgb = (k: number) => `(${k >> 16}, ${(k >> 8) & 255}, ${k & 255})`;
  if (unknown.size > 0) {
    const list = [...unknown].sort((a, b) => b[1].count - a[1].count);
    const shown = list
      .slice(0, 5)
      .map(([k, e]) => `${rgb(k)} (${e.count} px, first at ${at(e.first, width)})`)
      .join(', ');
    problem(
      'unknown-colour',
      `colour${list.length > 1 ? 's' : ''} ${shown}${list.length > 5 ? ` and ${list.length - 5} more` : ''} ${list.length > 1 ? 'are' : 'is'} no class colour nor the unlabelled colour`,
    );
  }
  for (const [k, e] of clash)
    problem(
      'unknown-colour',
      `colour ${rgb(k)} (${e.count} px, first at ${at(e.first, width)}) is the colour of several classes (${ambiguous.get(k)}): use a train-id mask`,
    );
  return { width, height, ids: unknown.size > 0 || clash.size > 0 ? null : ids };
}

export interface ReadMasksResult {
  masks: ImportedMask[];
  /** Files that are not masks of the layout (ignored), relative to the folder. */
  ignored: string[];
}

/**
 * Reads and checks every mask under `dir` for run `info` (see the file's header for the layout).
 * Throws MaskImportError listing every problem; returns the masks only when there are none.
 */
export function readLabelMasks(
  info: RunInfo,
  images: { id: string; width: number; height: number }[],
  dir: string,
  options: { format?: ImportFormat } = {},
): ReadMasksResult {
  const format = options.format ?? 'auto';
  const base = resolve(dir);
  const problems: MaskProblem[] = [];
  if (!existsSync(base) || !statSync(base).isDirectory()) throw new MaskImportError(base, [{ code: 'no-masks', file: base, message: 'no such folder' }]);
  const classes = info.classNames.length;

  // A manifest (ours) says which classes the ids mean and which colour is unlabelled.
  let unlabelled = unlabelledColour(info.palette);
  const manifestFile = join(base, MANIFEST);
  if (existsSync(manifestFile)) {
    let manifest: Partial<MasksManifest> | undefined;
    try {
      manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Partial<MasksManifest>;
    } catch (err) {
      problems.push({ code: 'unreadable', file: MANIFEST, message: `not valid JSON (${(err as Error).message}); fix or remove it` });
    }
    if (manifest?.format === MASKS_FORMAT) {
      const names = Array.isArray(manifest.classes) ? manifest.classes.map((c) => c?.name) : [];
      if (JSON.stringify(names) !== JSON.stringify(info.classNames)) {
        problems.push({
          code: 'wrong-classes',
          file: MANIFEST,
          message: `the masks were made for classes [${names.join(', ')}], run '${info.name}' has [${info.classNames.join(', ')}]: their ids mean other classes`,
        });
      }
      const u = manifest.unlabelledColor;
      if (Array.isArray(u) && u.length === 3 && u.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) unlabelled = [u[0], u[1], u[2]];
    }
  }

  const ignored: string[] = [];
  const trainRoot = join(base, TRAINID_DIR),
    colorRoot = join(base, COLOR_DIR);
  const trainFiles = format !== 'palette' && existsSync(trainRoot) ? findMasks(base, trainRoot, TRAINID_SUFFIX, ignored) : [];
  const colorFiles = format !== 'trainid' && existsSync(colorRoot) ? findMasks(base, colorRoot, COLOR_SUFFIX, ignored) : [];
  if (trainFiles.length === 0 && colorFiles.length === 0) {
    const expected = [
      format !== 'palette' ? `${TRAINID_DIR}/<image>${TRAINID_SUFFIX}` : null,
      format !== 'trainid' ? `${COLOR_DIR}/<image>${COLOR_SUFFIX}` : null,
    ]
      .filter((x) => x !== null)
      .join(' or ');
    throw new MaskImportError(base, [...problems, { code: 'no-masks', file: base, message: `no masks found: expected ${expected}` }]);
  }

  const byStem = new Map(images.map((im) => [maskStem(im.id), im]));
  const byColour = new Map<number, number>();
  const ambiguous = new Map<number, string>();
  info.palette.forEach((c, id) => {
    const k = key(c);
    if (byColour.has(k) || ambiguous.has(k)) {
      ambiguous.set(k, `${ambiguous.get(k) ?? info.classNames[byColour.get(k)!]}, ${info.classNames[id]}`);
      byColour.delete(k);
    } else byColour.set(k, id);
  });
  // A class drawn in the unlabelled colour wins: unlabelledColour never picks a class colour, but a manifest might.
  if (!byColour.has(key(unlabelled)) && !ambiguous.has(key(unlabelled))) byColour.set(key(unlabelled), IGNORE_INDEX);

  const read = (files: FoundFile[], kind: 'trainid' | 'color') => {
    const out = new Map<string, { data: Uint8Array; file: string; sha256: string }>();
    const firstFile = new Map<string, string>();
    for (const f of files) {
      const problem = (code: MaskProblemCode, message: string) => problems.push({ code, file: f.file, message });
      const im = byStem.get(f.stem);
      if (im === undefined) {
        const some = images
          .slice(0, 3)
          .map((i) => `'${i.id}'`)
          .join(', ');
        problem('unknown-image', `run '${info.name}' has no image '${f.stem}' (its ${images.length} images are named like ${some})`);
        continue;
      }
      if (firstFile.has(im.id)) {
        problem('duplicate', `a second ${kind} mask of image '${im.id}' (the first is ${firstFile.get(im.id)})`);
        continue;
      }
      firstFile.set(im.id, f.file);
      let bytes: Buffer;
      try {
        bytes = readFileSync(f.path);
      } catch (err) {
        problem('unreadable', `cannot read: ${(err as Error).message}`);
        continue;
      }
      const decoded = kind === 'trainid' ? decodeTrainIds(bytes, classes, problem) : decodeColours(bytes, byColour, ambiguous, problem);
      if (decoded === null) continue;
      if (decoded.width !== im.width || decoded.height !== im.height) {
        problem(
          'size-mismatch',
          `is ${decoded.width}x${decoded.height}, image '${im.id}' of run '${info.name}' is ${im.width}x${im.height} (the loop's working resolution)`,
        );
        continue;
      }
      if (decoded.ids === null) continue;
      out.set(im.id, { data: decoded.ids, file: f.file, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
    return out;
  };
  const fromTrain = read(trainFiles, 'trainid');
  const fromColor = read(colorFiles, 'color');

  const masks: ImportedMask[] = [];
  for (const im of images) {
    const t = fromTrain.get(im.id),
      c = fromColor.get(im.id);
    if (t !== undefined && c !== undefined) {
      let differ = 0,
        first = -1;
      for (let p = 0; p < t.data.length; p++) {
        if (t.data[p] !== c.data[p]) {
          differ++;
          if (first < 0) first = p;
        }
      }
      if (differ > 0) {
        problems.push({
          code: 'disagree',
          file: t.file,
          message: `disagrees with ${c.file} on ${differ} pixel(s) (first at ${at(first, im.width)}: ${t.data[first]} vs ${c.data[first]}); remove the stale one or import with --format trainid|palette`,
        });
        continue;
      }
    }
    const m = t ?? c;
    if (m !== undefined) masks.push({ imageId: im.id, data: m.data, source: join(base, m.file), sha256: m.sha256 });
  }
  if (problems.length > 0) throw new MaskImportError(base, problems);
  return { masks, ignored };
}

export interface MaskImportResult extends MaskImportSummary {
  run: string;
  dir: string;
  /** Mask files read (one per image). */
  files: number;
  ignored: string[];
}

/**
 * Reads, checks and imports the masks under `dir` into `run`: everything or nothing. Conflicts
 * with labels already in the store are refused unless `overwrite` (LabelStoreError 'conflict').
 */
export function importLabelMasks(
  store: LabelStore,
  run: string,
  dir: string,
  options: { annotator: string; format?: ImportFormat; overwrite?: boolean; dryRun?: boolean },
): MaskImportResult {
  const info = store.run(run);
  const { masks, ignored } = readLabelMasks(info, store.images(run), dir, { format: options.format });
  const summary = store.importMasks(run, masks, { annotator: options.annotator, overwrite: options.overwrite, dryRun: options.dryRun });
  return { run, dir: resolve(dir), files: masks.length, ignored, ...summary };
}
