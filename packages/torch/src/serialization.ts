// safetensors (https://github.com/huggingface/safetensors), implemented from its specification:
// an 8-byte little-endian header length N, N bytes of JSON header (padded with spaces to 8-byte
// alignment), then the raw little-endian row-major data of every tensor, back to back.
//
// Writing follows the reference implementation's layout (tensors sorted by descending dtype
// alignment, then by name; compact JSON; `__metadata__` first), so the same tensors give the same
// bytes, and every tensor starts at an offset aligned for its dtype. Files are written to a
// temporary sibling, fsynced and renamed over the target, so a crash never leaves a half-written
// file. Reading validates the whole header before any tensor is made and throws SafetensorsError,
// naming the file, for anything malformed.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:buffer';
import { closeSync, fsyncSync, openSync, readSync, fstatSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dirname } from 'node:path';
import type { DType } from './dtype.js';
import { native } from './native.js';
import { type Device, Tensor } from './tensor.js';

/** A malformed safetensors file or buffer, or tensors that cannot be saved. */
export class SafetensorsError extends Error {
  /** The file concerned, or undefined for in-memory buffers. */
  readonly file: string | undefined;

  constructor(message: string, file?: string) {
    super(`safetensors: ${file === undefined ? '<buffer>' : file}: ${message}`);
    this.name = 'SafetensorsError';
    this.file = file;
  }
}

export type SafetensorsDType = 'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface SafetensorsTensorInfo {
  dtype: DType;
  shape: number[];
  /** [begin, end) in bytes, relative to the first byte after the header. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** The `__metadata__` strings, or null when the file has none. */
  metadata: Record<string, string> | null;
  /** Every tensor by name (added in data order, though JS lists integer-like names first). */
  tensors: Record<string, SafetensorsTensorInfo>;
  /** Bytes before the data section: 8 + the header length. */
  dataStart: number;
  /** Bytes of the data section. */
  dataLength: number;
}

export interface LoadOptions {
  /** Device the tensors are put on (default cpu). */
  device?: Device;
}

export type TensorDict = Record<string, Tensor> | Map<string, Tensor>;

const CODE: Record<DType, SafetensorsDType> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_CODE: Record<string, DType> = Object.fromEntries(Object.entries(CODE).map(([d, c]) => [c, d as DType]));
const ELEMENT_SIZE: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};
/** The position of each dtype in the reference implementation's Dtype enum (its sort order). */
const REFERENCE_RANK: Record<DType, number> = { bool: 0, uint8: 1, int8: 2, int16: 5, float16: 7, bfloat16: 8, int32: 9, float32: 11, float64: 12, int64: 13 };
/** Dtypes of the format that libtorch 1.13 (and so this package) has no type for. */
const UNSUPPORTED_CODES = new Set(['U16', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2']);

/** The reference implementation refuses headers above 100 MB. */
const MAX_HEADER_SIZE = 100_000_000;
const LITTLE_ENDIAN = endianness() === 'LE';

// ------------------------------------------------------------------------------------------------
// Header parsing and validation

function hasDuplicateKey(json: string): string | undefined {
  // JSON.parse keeps the last of duplicate keys silently; the format forbids them. The text is
  // already known to be valid JSON, so a scan of strings and brackets finds every object key.
  const stack: (Set<string> | null)[] = [];
  let i = 0;
  const n = json.length;
  while (i < n) {
    const c = json[i];
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      let k = j + 1;
      while (k < n && (json[k] === ' ' || json[k] === '\t' || json[k] === '\n' || json[k] === '\r')) k++;
      const top = stack[stack.length - 1];
      if (json[k] === ':' && top) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        if (top.has(key)) return key;
        top.add(key);
      }
      i = j + 1;
      continue;
    }
    i++;
  }
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  // Plain assignment of '__proto__' would change the prototype instead of adding a key.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Parses and checks the header of a safetensors file of `totalLength` bytes, given (at least) its
 * first 8 + N bytes. Checks everything except the values of bool tensors.
 */
function parseHeader(head: Uint8Array, totalLength: number, file: string | undefined): SafetensorsHeader {
  const fail = (message: string): never => {
    throw new SafetensorsError(message, file);
  };
  if (totalLength < 8) fail(`${totalLength} bytes is too short for a safetensors file (it starts with an 8-byte header length)`);
  const lengthBig = Buffer.from(head.buffer, head.byteOffset, 8).readBigUInt64LE(0);
  if (lengthBig > BigInt(totalLength - 8)) {
    fail(`the header length ${lengthBig} is larger than the file (${totalLength} bytes); the file is truncated or not safetensors`);
  }
  const headerLength = Number(lengthBig);
  if (headerLength > MAX_HEADER_SIZE) fail(`the header length ${headerLength} exceeds the ${MAX_HEADER_SIZE}-byte limit`);
  if (headerLength < 2) fail(`the header length ${headerLength} is too small to hold a JSON object`);
  const headerBytes = head.subarray(8, 8 + headerLength);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    return fail('the header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(`the header does not start with '{' (it starts with ${JSON.stringify(text.slice(0, 16))})`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return fail(`the header is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(parsed)) return fail(`the header must be a JSON object, got ${describe(parsed)}`);
  const duplicate = hasDuplicateKey(text);
  if (duplicate !== undefined) fail(`the header names ${JSON.stringify(duplicate)} twice`);

  let metadata: Record<string, string> | null = null;
  const entries: { name: string; info: SafetensorsTensorInfo; code: string }[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (name === '__metadata__') {
      if (!isPlainObject(value)) fail(`__metadata__ must be an object of strings, got ${describe(value)}`);
      metadata = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ values must be strings, ${JSON.stringify(k)} is ${describe(v)}`);
        setOwn(metadata, k, v as string);
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (!isPlainObject(value)) fail(`${where}: expected {dtype, shape, data_offsets}, got ${describe(value)}`);
    const entry = value as Record<string, unknown>;
    const code = entry.dtype;
    if (typeof code !== 'string') fail(`${where}: dtype must be a string, got ${describe(code)}`);
    const dtype = FROM_CODE[code as string];
    if (dtype === undefined || !Object.prototype.hasOwnProperty.call(FROM_CODE, code as string)) {
      if (UNSUPPORTED_CODES.has(code as string))
        fail(`${where}: dtype ${code} is not supported by libtorch 1.13 (supported: ${Object.values(CODE).join(', ')})`);
      fail(`${where}: unknown dtype ${JSON.stringify(code)} (expected one of ${Object.values(CODE).join(', ')})`);
    }
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      fail(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      fail(`${where}: data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    let numel = 1;
    for (const d of shape as number[]) numel *= d;
    const nbytes = numel * ELEMENT_SIZE[dtype];
    if (!Number.isSafeInteger(nbytes)) fail(`${where}: shape [${String(shape)}] is too large`);
    if (nbytes !== end - begin) {
      fail(`${where}: dtype ${code} and shape [${String(shape)}] need ${nbytes} bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    entries.push({ name, code: code as string, info: { dtype, shape: shape as number[], dataOffsets: [begin, end] } });
  }

  const dataStart = 8 + headerLength;
  const dataLength = totalLength - dataStart;
  entries.sort((a, b) => a.info.dataOffsets[0] - b.info.dataOffsets[0] || a.info.dataOffsets[1] - b.info.dataOffsets[1]);
  let position = 0;
  let previous = '';
  const tensors: Record<string, SafetensorsTensorInfo> = {};
  for (const { name, info } of entries) {
    const [begin, end] = info.dataOffsets;
    if (begin !== position) {
      const after = previous === '' ? 'the start of the data section' : `tensor ${previous}, which ends at byte ${position}`;
      fail(
        begin < position
          ? `tensor ${JSON.stringify(name)} (data_offsets [${begin}, ${end}]) overlaps ${after}`
          : `a gap of ${begin - position} bytes between ${after}${previous === '' ? '' : ','} and tensor ${JSON.stringify(name)} (data_offsets [${begin}, ${end}])`,
      );
    }
    if (end > dataLength) {
      fail(`truncated: tensor ${JSON.stringify(name)} ends at byte ${end} of the data section, which holds only ${dataLength} bytes`);
    }
    position = end;
    previous = JSON.stringify(name);
    setOwn(tensors, name, info);
  }
  if (position !== dataLength) {
    fail(`the tensors cover ${position} bytes of data but the data section holds ${dataLength}: ${dataLength - position} bytes follow the last tensor`);
  }
  return { metadata, tensors, dataStart, dataLength };
}

// ------------------------------------------------------------------------------------------------
// Building tensors from bytes

function swapBytes(bytes: Uint8Array, size: number): Uint8Array {
  if (size === 1 || LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size) for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j];
  return out;
}

function buildTensors(bytes: Uint8Array, header: SafetensorsHeader, file: string | undefined, options: LoadOptions): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const made: Tensor[] = [];
  try {
    for (const [name, info] of Object.entries(header.tensors)) {
      const [begin, end] = info.dataOffsets;
      const view = bytes.subarray(header.dataStart + begin, header.dataStart + end);
      if (info.dtype === 'bool') {
        for (let i = 0; i < view.length; i++) {
          if (view[i] > 1)
            throw new SafetensorsError(`tensor ${JSON.stringify(name)} (BOOL) holds the byte ${view[i]} at element ${i}; bools must be 0 or 1`, file);
        }
      }
      // One copy, straight from the file's bytes into libtorch memory (a memcpy, so the view's
      // alignment does not matter and no aligned intermediate copy is needed).
      const handle = native.fromBuffer(swapBytes(view, ELEMENT_SIZE[info.dtype]), info.shape, info.dtype, options.device);
      const t = new Tensor(handle);
      made.push(t);
      setOwn(out, name, t);
    }
  } catch (err) {
    for (const t of made) t.dispose();
    throw err;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Public reading API

// fs.readFile stops at 2 GiB; reading by pieces into one buffer goes up to Node's buffer limit.
const PIECE = 1 << 30;

function bufferFor(size: number, path: string): Buffer {
  if (size > constants.MAX_LENGTH) {
    throw new SafetensorsError(`the file is ${size} bytes, more than the largest buffer Node can hold (${constants.MAX_LENGTH})`, path);
  }
  return Buffer.allocUnsafe(size);
}

function readWholeSync(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = bufferFor(fstatSync(fd).size, path);
    let filled = 0;
    while (filled < buffer.length) {
      const n = readSync(fd, buffer, filled, Math.min(PIECE, buffer.length - filled), filled);
      if (n === 0) break; // the file shrank meanwhile: what was read is validated as it is
      filled += n;
    }
    return buffer.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}

async function readWhole(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = bufferFor((await handle.stat()).size, path);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, Math.min(PIECE, buffer.length - filled), filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

/** Tensors from safetensors bytes held in memory (one copy into libtorch per tensor). */
export function deserializeSafetensors(buffer: Uint8Array, options: LoadOptions = {}): Record<string, Tensor> {
  if (!(buffer instanceof Uint8Array)) throw new TypeError(`deserializeSafetensors: expected a Buffer or Uint8Array, got ${describe(buffer)}`);
  const header = parseHeader(buffer, buffer.length, undefined);
  return buildTensors(buffer, header, undefined, options);
}

/** Reads a safetensors file (once, whole) and returns its tensors by name. */
export function loadSafetensorsSync(path: string, options: LoadOptions = {}): Record<string, Tensor> {
  const bytes = readWholeSync(path);
  return buildTensors(bytes, parseHeader(bytes, bytes.length, path), path, options);
}

/** Reads a safetensors file (once, whole) and returns its tensors by name. */
export async function loadSafetensors(path: string, options: LoadOptions = {}): Promise<Record<string, Tensor>> {
  const bytes = await readWhole(path);
  return buildTensors(bytes, parseHeader(bytes, bytes.length, path), path, options);
}

function headerLengthFrom(prefix: Uint8Array, size: number, path: string): number {
  // Reads just enough to know how many header bytes to read; parseHeader repeats the checks.
  if (size < 8) parseHeader(prefix, size, path);
  const n = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  return n > BigInt(size - 8) || n > BigInt(MAX_HEADER_SIZE) ? 0 : Number(n);
}

/** The metadata and tensor layout of a safetensors file, validated, without reading the data. */
export function readSafetensorsHeaderSync(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const prefix = Buffer.alloc(Math.min(size, 8));
    readSync(fd, prefix, 0, prefix.length, 0);
    const n = headerLengthFrom(prefix, size, path);
    const head = Buffer.alloc(8 + n);
    prefix.copy(head);
    if (n > 0) readSync(fd, head, 8, n, 8);
    return parseHeader(head, size, path);
  } finally {
    closeSync(fd);
  }
}

/** The metadata and tensor layout of a safetensors file, validated, without reading the data. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const prefix = Buffer.alloc(Math.min(size, 8));
    await handle.read(prefix, 0, prefix.length, 0);
    const n = headerLengthFrom(prefix, size, path);
    const head = Buffer.alloc(8 + n);
    prefix.copy(head);
    if (n > 0) await handle.read(head, 8, n, 8);
    return parseHeader(head, size, path);
  } finally {
    await handle.close();
  }
}

// ------------------------------------------------------------------------------------------------
// Writing

interface Planned {
  name: string;
  tensor: Tensor;
  dtype: DType;
  nbytes: number;
}

interface Plan {
  /** The 8-byte length and the padded header. */
  head: Buffer;
  tensors: Planned[];
  dataLength: number;
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** Checks the tensors and metadata and lays out the file: everything but the data bytes. */
function plan(tensors: TensorDict, metadata: Record<string, string> | undefined, file: string | undefined): Plan {
  const fail = (message: string): never => {
    throw new SafetensorsError(message, file);
  };
  let pairs: [string, unknown][];
  if (tensors instanceof Map) pairs = [...tensors.entries()];
  else if (isPlainObject(tensors)) pairs = Object.entries(tensors);
  else return fail(`tensors must be a Record or Map of name to Tensor, got ${describe(tensors)}`);
  const planned: Planned[] = [];
  for (const [name, tensor] of pairs) {
    if (typeof name !== 'string') fail(`tensor names must be strings, got ${describe(name)}`);
    if (name === '__metadata__') fail(`"__metadata__" is reserved for metadata and cannot name a tensor`);
    if (!isWellFormed(name)) fail(`tensor name ${JSON.stringify(name)} is not valid Unicode (a lone surrogate)`);
    if (!(tensor instanceof Tensor)) fail(`${JSON.stringify(name)} is not a Tensor (got ${describe(tensor)})`);
    const t = tensor as Tensor;
    if (t.isDisposed) fail(`tensor ${JSON.stringify(name)} is disposed`);
    const dtype = t.dtype;
    if (!Object.prototype.hasOwnProperty.call(CODE, dtype)) fail(`tensor ${JSON.stringify(name)} has dtype ${dtype}, which safetensors cannot hold`);
    planned.push({ name, tensor: t, dtype, nbytes: t.numel() * ELEMENT_SIZE[dtype] });
  }
  if (metadata !== undefined && metadata !== null) {
    if (!isPlainObject(metadata)) fail(`metadata must be a Record of strings, got ${describe(metadata)}`);
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail(`metadata values must be strings, ${JSON.stringify(k)} is ${describe(v)}`);
      if (!isWellFormed(k) || !isWellFormed(v)) fail(`metadata ${JSON.stringify(k)} is not valid Unicode (a lone surrogate)`);
    }
  }
  // The reference implementation's order: descending dtype alignment, then name (bytewise).
  planned.sort((a, b) => REFERENCE_RANK[b.dtype] - REFERENCE_RANK[a.dtype] || compareUtf8(a.name, b.name));
  const parts: string[] = [];
  if (metadata !== undefined && metadata !== null) {
    const keys = Object.keys(metadata).sort(compareUtf8);
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const p of planned) {
    // Built by hand: JSON.stringify of an object would move integer-like names to the front.
    parts.push(`${JSON.stringify(p.name)}:{"dtype":"${CODE[p.dtype]}","shape":[${p.tensor.shape.join(',')}],"data_offsets":[${offset},${offset + p.nbytes}]}`);
    offset += p.nbytes;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER_SIZE) fail(`the header would be ${padded} bytes, above the ${MAX_HEADER_SIZE}-byte limit readers accept`);
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);
  return { head, tensors: planned, dataLength: offset };
}

/** The data bytes of one tensor: contiguous, on the CPU, little-endian. */
function tensorBytes(p: Planned, file: string | undefined): Uint8Array {
  // toBuffer detaches, copies to the CPU and makes the tensor contiguous (one copy into JS).
  const bytes = new Uint8Array(p.tensor.native.toBuffer());
  if (bytes.length !== p.nbytes) {
    throw new SafetensorsError(`tensor ${JSON.stringify(p.name)} gave ${bytes.length} bytes of data, expected ${p.nbytes}`, file);
  }
  return swapBytes(bytes, ELEMENT_SIZE[p.dtype]);
}

/** The safetensors bytes of the tensors (sorted as the reference implementation sorts them). */
export function serializeSafetensors(tensors: TensorDict, metadata?: Record<string, string>): Buffer {
  const { head, tensors: planned, dataLength } = plan(tensors, metadata, undefined);
  const out = Buffer.allocUnsafe(head.length + dataLength);
  head.copy(out, 0);
  let position = head.length;
  for (const p of planned) {
    out.set(tensorBytes(p, undefined), position);
    position += p.nbytes;
  }
  return out;
}

function tempPath(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function syncDirectory(path: string): void {
  // Makes the rename itself durable; not possible everywhere (e.g. Windows), so best effort.
  let fd: number | undefined;
  try {
    fd = openSync(dirname(path), 'r');
    fsyncSync(fd);
  } catch {
    // ignore
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
}

/**
 * Writes the tensors to `path` atomically: to a temporary sibling, fsynced, then renamed over the
 * target. Tensors are copied to JS one at a time (peak extra memory: the largest tensor).
 */
export function saveSafetensorsSync(path: string, tensors: TensorDict, metadata?: Record<string, string>): void {
  if (typeof path !== 'string' || path === '') throw new TypeError(`saveSafetensorsSync: path must be a non-empty string, got ${describe(path)}`);
  const { head, tensors: planned } = plan(tensors, metadata, path);
  const temp = tempPath(path);
  const fd = openSync(temp, 'wx');
  let renamed = false;
  try {
    try {
      writeAll(fd, head);
      for (const p of planned) writeAll(fd, tensorBytes(p, path));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    renamed = true;
  } finally {
    if (!renamed) {
      try {
        unlinkSync(temp);
      } catch {
        // already gone
      }
    }
  }
  syncDirectory(path);
}

/**
 * Writes the tensors to `path` atomically, like saveSafetensorsSync. The values are captured when
 * the call is made (so later in-place updates, e.g. an optimiser step, do not leak into the file,
 * and the tensors may be disposed at once); the file is written asynchronously.
 */
export async function saveSafetensors(path: string, tensors: TensorDict, metadata?: Record<string, string>): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new TypeError(`saveSafetensors: path must be a non-empty string, got ${describe(path)}`);
  const { head, tensors: planned } = plan(tensors, metadata, path);
  const chunks = [head, ...planned.map((p) => tensorBytes(p, path))];
  const temp = tempPath(path);
  const handle = await open(temp, 'wx');
  let renamed = false;
  try {
    try {
      for (const chunk of chunks) {
        let written = 0;
        while (written < chunk.length) written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    renamed = true;
  } finally {
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
  syncDirectory(path);
}
