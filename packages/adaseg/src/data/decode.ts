// Decoding files into raw arrays. Images go through sharp (any format it reads, 8-bit RGB out).
// Label PNGs are read by our exact PNG reader (png.ts): sharp expands palette PNGs (GTA5) into
// colours and rescales 16-bit channels (SYNTHIA), and labels must keep their stored values.
import { readFile } from 'node:fs/promises';
import sharp, { type OutputInfo } from 'sharp';
import { type CompiledMapping, IGNORE_INDEX } from './classes.js';
import type { LabelEncoding } from './dataset.js';
import { DataError, listValues } from './errors.js';
import { decodePng, PngError, readPngHeader } from './png.js';

/** 8-bit RGB, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Train ids (or IGNORE_INDEX), row-major, one byte per pixel. */
export interface LabelImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The samples a label file stores, before any mapping. */
export interface RawLabel {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array | Uint16Array;
  /** What the file is, for hints in messages (e.g. 'PNG, palette, 8-bit'). */
  kind: string;
}

let configured = false;
/** sharp settings for data loading: no operation cache (every file is read once per epoch). */
export function configureSharp(options: { concurrency?: number } = {}): void {
  if (!configured) sharp.cache(false);
  configured = true;
  if (options.concurrency !== undefined) sharp.concurrency(options.concurrency);
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'no such file';
  if (e?.code === 'EACCES') return 'permission denied';
  if (e?.code === 'EISDIR') return 'is a directory';
  return (e?.message ?? String(err)).replace(/\s+$/, '');
}

/** Decodes an image file (PNG, JPEG, ...) to 8-bit RGB. */
export async function decodeImage(path: string): Promise<RgbImage> {
  configureSharp();
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await sharp(path, { failOn: 'warning' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new DataError('unreadable', `cannot decode image ${path}: ${reason(err)}`, { file: path, cause: err });
  }
  const { width, height, channels } = out.info;
  const src = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
  if (channels === 3) return { width, height, data: src };
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, n = width * height; i < n; i++) {
    const v = src[i * channels];
    data[i * 3] = v;
    data[i * 3 + 1] = channels >= 3 ? src[i * channels + 1] : v;
    data[i * 3 + 2] = channels >= 3 ? src[i * channels + 2] : v;
  }
  return { width, height, data };
}

const COLOR_TYPES: Record<number, string> = { 0: 'gray', 2: 'RGB', 3: 'palette', 4: 'gray+alpha', 6: 'RGBA' };

/** Reads the stored values of a label file (PNG exactly; other formats through sharp, 8-bit). */
export async function readRawLabel(path: string): Promise<RawLabel> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new DataError('unreadable', `cannot read label ${path}: ${reason(err)}`, { file: path, cause: err });
  }
  const isPng = bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  if (isPng) {
    try {
      const header = readPngHeader(bytes);
      if (header.interlace === 0) {
        const png = decodePng(bytes);
        return {
          width: png.width,
          height: png.height,
          channels: png.channels,
          data: png.data,
          kind: `PNG, ${COLOR_TYPES[png.colorType]}, ${png.bitDepth}-bit`,
        };
      }
      if (header.colorType === 3) throw new PngError('interlaced palette PNG labels are not supported; re-save the label without interlacing');
    } catch (err) {
      if (err instanceof PngError) throw new DataError('unreadable', `cannot decode label ${path}: ${err.message}`, { file: path, cause: err });
      throw err;
    }
  }
  // Interlaced PNGs and other formats: sharp, keeping 16-bit samples when there are any.
  try {
    const meta = await sharp(bytes).metadata();
    const wide = meta.depth === 'ushort';
    let pipeline = sharp(bytes, { failOn: 'warning' });
    if (wide) pipeline = pipeline.pipelineColourspace('rgb16').toColourspace('rgb16');
    const { data, info } = await pipeline.raw(wide ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
    const values = wide ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { width: info.width, height: info.height, channels: info.channels, data: values, kind: `${meta.format}, ${wide ? 16 : 8}-bit` };
  } catch (err) {
    throw new DataError('unreadable', `cannot decode label ${path}: ${reason(err)}`, { file: path, cause: err });
  }
}

export interface MappedLabel {
  label: LabelImage;
  /** Raw values found that the dataset never declared (sorted); they were mapped to ignore. */
  undeclared: number[];
}

/** Raw values → train ids through the compiled mapping, noting undeclared values. */
export function mapRawLabel(raw: RawLabel, encoding: LabelEncoding, compiled: CompiledMapping, file: string): MappedLabel {
  const { width, height, channels } = raw;
  if (encoding.channel >= channels) {
    throw new DataError('unreadable', `label ${file} has ${channels} channel(s) (${raw.kind}); the dataset reads channel ${encoding.channel}`, { file });
  }
  const n = width * height;
  const out = new Uint8Array(n);
  const { lut, declared } = compiled;
  const src = raw.data;
  let bad: Set<number> | undefined;
  for (let i = 0, j = encoding.channel; i < n; i++, j += channels) {
    const v = src[j];
    out[i] = lut[v];
    if (declared[v] === 0) (bad ??= new Set()).add(v);
  }
  return { label: { width, height, data: out }, undeclared: bad === undefined ? [] : [...bad].sort((a, b) => a - b) };
}

/** The DataError for undeclared values in a label file. */
export function undeclaredError(file: string, values: number[], raw?: RawLabel): DataError {
  const hint = raw !== undefined && (raw.kind.includes('RGB') || raw.kind.includes('palette')) ? ` (file is ${raw.kind})` : '';
  return new DataError('undeclared-values', `label ${file} holds values the dataset does not declare: ${listValues(values)}${hint}`, { file, values });
}

/** Checks a mask of train ids: values must be a class or IGNORE_INDEX. */
export function checkMask(data: Uint8Array, numClasses: number): number[] {
  let bad: Set<number> | undefined;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v >= numClasses && v !== IGNORE_INDEX) (bad ??= new Set()).add(v);
  }
  return bad === undefined ? [] : [...bad].sort((a, b) => a - b);
}
