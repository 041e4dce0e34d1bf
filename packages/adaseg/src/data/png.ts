// A small exact PNG codec for label maps. Images are decoded by sharp; labels must keep their raw
// sample values, which sharp does not always do: palette PNGs (GTA5) come back as colours, not
// indices, and 16-bit channels (SYNTHIA) must not be rescaled. This reads the samples as stored.
import { deflateSync, inflateSync } from 'node:zlib';
import { AdasegError } from '../errors.js';

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
  colorType: number;
  interlace: number;
}

export interface PngSamples extends PngHeader {
  /** Samples per pixel as stored (palette: 1, the index). */
  channels: number;
  /** Row-major samples, `channels` per pixel: palette indices, gray or colour values (16-bit kept). */
  data: Uint8Array | Uint16Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** A PNG that cannot be decoded (code 'unreadable'). */
export class PngError extends AdasegError {
  constructor(message: string) {
    super('unreadable', message);
    this.name = 'PngError';
  }
}

/** Reads IHDR only (cheap: the first 33 bytes). */
export function readPngHeader(bytes: Uint8Array): PngHeader {
  if (bytes.length < 33 || !SIGNATURE.equals(bytes.subarray(0, 8))) throw new PngError('not a PNG file (bad signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]);
  if (type !== 'IHDR') throw new PngError('corrupt PNG: the first chunk is not IHDR');
  const header = {
    width: view.getUint32(16),
    height: view.getUint32(20),
    bitDepth: bytes[24],
    colorType: bytes[25],
    interlace: bytes[28],
  };
  if (header.width === 0 || header.height === 0) throw new PngError('corrupt PNG: zero width or height');
  if (CHANNELS[header.colorType] === undefined) throw new PngError(`corrupt PNG: colour type ${header.colorType}`);
  return header;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes a non-interlaced PNG into its stored samples. Throws PngError on anything malformed. */
export function decodePng(bytes: Uint8Array): PngSamples {
  const header = readPngHeader(bytes);
  if (header.interlace !== 0) throw new PngError('interlaced PNG labels are not supported; re-save without interlacing');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idat: Uint8Array[] = [];
  let pos = 8;
  let ended = false;
  while (pos + 8 <= bytes.length) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    if (pos + 12 + len > bytes.length) throw new PngError(`corrupt PNG: chunk ${type} is truncated`);
    if (type === 'IDAT') idat.push(bytes.subarray(pos + 8, pos + 8 + len));
    pos += 12 + len;
    if (type === 'IEND') {
      ended = true;
      break;
    }
  }
  if (!ended) throw new PngError('corrupt PNG: truncated (no IEND chunk)');
  if (idat.length === 0) throw new PngError('corrupt PNG: no image data');
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (err) {
    throw new PngError(`corrupt PNG: image data does not inflate (${(err as Error).message})`);
  }
  const { width, height, bitDepth, colorType } = header;
  const channels = CHANNELS[colorType];
  const bitsPerPixel = channels * bitDepth;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  if (raw.length < (stride + 1) * height) throw new PngError('corrupt PNG: image data is shorter than the image');
  // Undo the per-row filters into `rows` (one loop per filter type: this is the hot part).
  const rows = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const prev = dst - stride;
    switch (filter) {
      case 0:
        rows.set(raw.subarray(src, src + stride), dst);
        break;
      case 1:
        for (let x = 0; x < stride; x++) rows[dst + x] = (raw[src + x] + (x >= bpp ? rows[dst + x - bpp] : 0)) & 0xff;
        break;
      case 2:
        if (y === 0) rows.set(raw.subarray(src, src + stride), dst);
        else for (let x = 0; x < stride; x++) rows[dst + x] = (raw[src + x] + rows[prev + x]) & 0xff;
        break;
      case 3:
        for (let x = 0; x < stride; x++) {
          const a = x >= bpp ? rows[dst + x - bpp] : 0;
          const b = y > 0 ? rows[prev + x] : 0;
          rows[dst + x] = (raw[src + x] + ((a + b) >> 1)) & 0xff;
        }
        break;
      case 4:
        for (let x = 0; x < stride; x++) {
          const a = x >= bpp ? rows[dst + x - bpp] : 0;
          const b = y > 0 ? rows[prev + x] : 0;
          const c = x >= bpp && y > 0 ? rows[prev + x - bpp] : 0;
          rows[dst + x] = (raw[src + x] + paeth(a, b, c)) & 0xff;
        }
        break;
      default:
        throw new PngError(`corrupt PNG: unknown row filter ${filter} in row ${y}`);
    }
  }
  const n = width * height * channels;
  if (bitDepth === 8) return { ...header, channels, data: rows.length === n ? rows : rows.slice(0, n) };
  if (bitDepth === 16) {
    const out = new Uint16Array(n);
    for (let y = 0, i = 0; y < height; y++) {
      const row = y * stride;
      for (let x = 0; x < width * channels; x++, i++) out[i] = (rows[row + 2 * x] << 8) | rows[row + 2 * x + 1];
    }
    return { ...header, channels, data: out };
  }
  // 1, 2 or 4 bits per sample (gray or palette).
  const out = new Uint8Array(n);
  const mask = (1 << bitDepth) - 1;
  for (let y = 0, i = 0; y < height; y++) {
    const row = y * stride;
    for (let x = 0; x < width * channels; x++, i++) {
      const bit = x * bitDepth;
      out[i] = (rows[row + (bit >> 3)] >> (8 - bitDepth - (bit & 7))) & mask;
    }
  }
  return { ...header, channels, data: out };
}

let crcTable: Uint32Array | undefined;
function crc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * An 8-bit palette PNG whose indices are `indices` (one byte per pixel), as GTA5 stores labels
 * and as label maps are saved for viewing. `palette` gives RGB per index (at most 256).
 */
export function encodeIndexedPng(width: number, height: number, indices: Uint8Array, palette: readonly (readonly [number, number, number])[]): Buffer {
  if (indices.length !== width * height) throw new PngError(`encodeIndexedPng: ${indices.length} indices for ${width}x${height}`);
  if (palette.length === 0 || palette.length > 256) throw new PngError('encodeIndexedPng: the palette needs 1..256 colours');
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 3;
  const plte = Buffer.alloc(palette.length * 3);
  palette.forEach((c, i) => plte.set(c, i * 3));
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(indices.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('PLTE', plte), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

/** An 8-bit gray PNG of `values` (one byte per pixel), as Cityscapes stores `*_labelTrainIds.png`. */
export function encodeGrayPng(width: number, height: number, values: Uint8Array): Buffer {
  if (values.length !== width * height) throw new PngError(`encodeGrayPng: ${values.length} values for ${width}x${height}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(values.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}
