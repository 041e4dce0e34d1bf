import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/index.js';
import type { NativeTensor } from '../src/native.js';
import {
  SafetensorsError,
  deserializeSafetensors,
  loadSafetensors,
  loadSafetensorsSync,
  readSafetensorsHeader,
  readSafetensorsHeaderSync,
  saveSafetensors,
  saveSafetensorsSync,
  serializeSafetensors,
} from '../src/serialization.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtureDir = join(here, 'fixtures', 'safetensors');
const peerScript = join(here, '..', 'scripts', 'safetensors_peer.py');
const PYTHON = '/usr/bin/python3';
const dir = mkdtempSync(join(tmpdir(), 'adaseg-safetensors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CODE: Record<torch.DType, string> = {
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

/** Runs fn in a tidy scope and checks that no tensor outlives it. */
function noLeaks(fn: () => void): void {
  const before = torch.memory().tensors;
  torch.tidy(fn);
  assert.equal(torch.memory().tensors, before, 'tensors leaked');
}
async function noLeaksAsync(fn: () => Promise<void>): Promise<void> {
  const before = torch.memory().tensors;
  await torch.asyncScope(fn);
  assert.equal(torch.memory().tensors, before, 'tensors leaked');
}

function rawBytes(t: torch.Tensor): Buffer {
  const a = t.toTypedArray();
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function assertSameTensor(actual: torch.Tensor, expected: torch.Tensor, what: string): void {
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  assert.equal(actual.device, 'cpu', `${what}: device`);
  assert.ok(actual.isContiguous(), `${what}: contiguous`);
  assert.ok(rawBytes(actual).equals(rawBytes(expected)), `${what}: bytes`);
}

function sample(dtype: torch.DType, shape: number[]): torch.Tensor {
  if (dtype === 'bool') return torch.rand(shape).gt(0.5);
  if (dtype === 'uint8') return torch.randint(0, 256, shape, { dtype });
  if (dtype === 'int8') return torch.randint(-128, 128, shape, { dtype });
  if (dtype === 'int16') return torch.randint(-32768, 32768, shape, { dtype });
  if (dtype === 'int32') return torch.randint(-(2 ** 31), 2 ** 31 - 1, shape, { dtype });
  if (dtype === 'int64') return torch.randint(-(2 ** 53 - 1), 2 ** 53 - 1, shape, { dtype });
  return torch.randn(shape).mul(1000).to(dtype);
}

const SHAPES = [[], [0], [1], [7], [2, 3], [3, 0, 2], [2, 3, 4, 5]];

/** Every dtype in every shape, plus non-contiguous and grad-requiring tensors. */
function everything(): Map<string, { tensor: torch.Tensor; expected: torch.Tensor }> {
  torch.manualSeed(1);
  const out = new Map<string, { tensor: torch.Tensor; expected: torch.Tensor }>();
  for (const dtype of torch.DTYPES) {
    for (const shape of SHAPES) {
      const t = sample(dtype, shape);
      out.set(`${dtype}/${shape.join('x') || 'scalar'}`, { tensor: t, expected: t });
    }
    const base = sample(dtype, [4, 6]);
    const transposed = base.T;
    out.set(`${dtype}/transposed`, { tensor: transposed, expected: transposed.contiguous() });
    const strided = base.slice(1, 0, null, 2);
    out.set(`${dtype}/strided`, { tensor: strided, expected: strided.contiguous() });
    const expanded = sample(dtype, [3, 1]).expand(3, 4);
    out.set(`${dtype}/expanded`, { tensor: expanded, expected: expanded.contiguous() });
  }
  const conv = torch.randn([8, 3, 3, 3]).contiguous('channels_last');
  assert.ok(!conv.isContiguous());
  out.set('conv.weight.channels_last', { tensor: conv, expected: conv.contiguous() });
  const param = torch.randn([5]).requiresGrad_();
  out.set('param', { tensor: param, expected: param.detach() });
  return out;
}

function tensorsOf(cases: Map<string, { tensor: torch.Tensor }>): Record<string, torch.Tensor> {
  return Object.fromEntries([...cases].map(([k, v]) => [k, v.tensor]));
}

function checkAll(loaded: Record<string, torch.Tensor>, cases: Map<string, { expected: torch.Tensor }>): void {
  assert.deepEqual(Object.keys(loaded).sort(), [...cases.keys()].sort());
  for (const [name, { expected }] of cases) {
    assertSameTensor(loaded[name], expected, name);
    assert.equal(loaded[name].requiresGrad, false);
  }
}

function headerText(bytes: Buffer): string {
  const n = Number(bytes.readBigUInt64LE(0));
  return bytes.subarray(8, 8 + n).toString('utf8');
}

describe('round trips', () => {
  test('every dtype and shape, in memory', () => {
    noLeaks(() => {
      const cases = everything();
      const bytes = serializeSafetensors(tensorsOf(cases), { step: '12' });
      checkAll(deserializeSafetensors(bytes), cases);
      // A Map gives the same bytes as a Record, whatever the insertion order.
      const reversed = new Map([...cases].reverse().map(([k, v]) => [k, v.tensor]));
      assert.ok(serializeSafetensors(reversed, { step: '12' }).equals(bytes));
    });
  });

  test('every dtype and shape, on disk (sync)', () => {
    noLeaks(() => {
      const cases = everything();
      const path = join(dir, 'sync.safetensors');
      saveSafetensorsSync(path, tensorsOf(cases), { a: 'b' });
      checkAll(loadSafetensorsSync(path), cases);
      assert.ok(readFileSync(path).equals(serializeSafetensors(tensorsOf(cases), { a: 'b' })));
      const header = readSafetensorsHeaderSync(path);
      assert.deepEqual(header.metadata, { a: 'b' });
      assert.deepEqual(header.tensors['float16/2x3'], { dtype: 'float16', shape: [2, 3], dataOffsets: header.tensors['float16/2x3'].dataOffsets });
      assert.equal(header.dataStart + header.dataLength, readFileSync(path).length);
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.includes('.tmp-')),
        [],
      );
    });
  });

  test('every dtype and shape, on disk (async)', async () => {
    await noLeaksAsync(async () => {
      const cases = everything();
      const path = join(dir, 'async.safetensors');
      await saveSafetensors(path, tensorsOf(cases));
      checkAll(await loadSafetensors(path), cases);
      const header = await readSafetensorsHeader(path);
      assert.equal(header.metadata, null);
      assert.equal(Object.keys(header.tensors).length, cases.size);
      for (const [name, { expected }] of cases) {
        assert.equal(header.tensors[name].dtype, expected.dtype);
        assert.deepEqual(header.tensors[name].shape, expected.shape);
      }
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.includes('.tmp-')),
        [],
      );
    });
  });

  test('the async save captures values at the call, so later in-place updates do not leak in', async () => {
    await noLeaksAsync(async () => {
      const w = torch.zeros([3]);
      const path = join(dir, 'snapshot.safetensors');
      const saving = saveSafetensors(path, { w });
      w.add_(1);
      await saving;
      assert.deepEqual(loadSafetensorsSync(path).w.tolist(), [0, 0, 0]);
    });
  });

  test('names that are integer-like, empty, unicode or __proto__ survive', () => {
    noLeaks(() => {
      const tensors: Record<string, torch.Tensor> = {};
      for (const name of ['10', '9', '', 'ünï/cödé ✓', 'a"b\\c\n', 'constructor']) tensors[name] = torch.tensor([name.length]);
      Object.defineProperty(tensors, '__proto__', { value: torch.tensor([42]), enumerable: true });
      const loaded = deserializeSafetensors(serializeSafetensors(tensors));
      assert.equal(Object.getPrototypeOf(loaded), Object.prototype);
      assert.deepEqual(Object.keys(loaded).sort(), Object.keys(tensors).sort());
      for (const name of Object.keys(tensors)) assert.deepEqual(loaded[name].tolist(), tensors[name].tolist(), name);
    });
  });

  test('loads onto the requested device, and cleans up when that fails', () => {
    noLeaks(() => {
      const bytes = serializeSafetensors({ a: torch.ones([2]), b: torch.zeros([3]) });
      assert.equal(deserializeSafetensors(bytes, { device: 'cpu' }).a.device, 'cpu');
      if (!torch.cuda.isAvailable()) {
        const before = torch.memory().tensors;
        assert.throws(() => deserializeSafetensors(bytes, { device: 'cuda' }), torch.TorchError);
        assert.equal(torch.memory().tensors, before);
      }
    });
  });
});

describe('layout, as the reference implementation writes it', () => {
  test('byte-exact against the reference test vectors', () => {
    noLeaks(() => {
      const data = Buffer.from(new Float32Array([0, 1, 2, 3, 4, 5]).buffer);
      const one = serializeSafetensors({ 'attn.0': torch.arange(6).reshape(1, 2, 3) });
      const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
      assert.equal(json.length, 64); // already aligned: no padding
      assert.ok(one.equals(Buffer.concat([Buffer.from([64, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(json), data])));

      const padded = serializeSafetensors({ attn0: torch.arange(6).reshape(1, 1, 2, 3) });
      const json2 = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
      assert.equal(json2.length, 65);
      assert.ok(padded.equals(Buffer.concat([Buffer.from([72, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(json2 + ' '.repeat(7)), data])));

      assert.ok(serializeSafetensors({}).equals(Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from('{}      ')])));
      const meta = serializeSafetensors(new Map(), { framework: 'pt' });
      assert.ok(meta.equals(Buffer.concat([Buffer.from([40, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"__metadata__":{"framework":"pt"}}     ')])));
      assert.deepEqual(deserializeSafetensors(meta), {});
    });
  });

  test('tensors sorted by descending dtype alignment then name, each aligned; metadata keys sorted', () => {
    noLeaks(() => {
      const bytes = serializeSafetensors(
        {
          a: torch.tensor([true]),
          b: torch.tensor([1], { dtype: 'int64' }),
          c: torch.ones([3]),
          '9': torch.ones([1]),
          '10': torch.ones([1]),
          h: torch.ones([3]).to('float16'),
          u: torch.tensor([1], { dtype: 'uint8' }),
        },
        { z: '1', a: '2' },
      );
      const text = headerText(bytes);
      assert.ok(text.startsWith('{"__metadata__":{"a":"2","z":"1"},"b":'), text);
      const order = [...text.matchAll(/"([^"]*)":\{"dtype"/g)].map((m) => m[1]);
      assert.deepEqual(order, ['b', '10', '9', 'c', 'h', 'u', 'a']);
      const header = JSON.parse(text) as Record<string, { dtype: string; data_offsets: [number, number] }>;
      const n = Number(bytes.readBigUInt64LE(0));
      assert.equal(n % 8, 0);
      const sizes: Record<string, number> = { I64: 8, F32: 4, F16: 2, U8: 1, BOOL: 1 };
      for (const name of order) assert.equal((8 + n + header[name].data_offsets[0]) % sizes[header[name].dtype], 0, name);
    });
  });
});

describe('PyTorch interoperability', () => {
  type Expected = { metadata: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[]; values: (number | string | boolean)[] }> };

  function encodeValues(t: torch.Tensor): (number | string | boolean)[] {
    const wide = t.dtype === 'float16' || t.dtype === 'bfloat16' ? t.float() : t;
    return Array.from(wide.toTypedArray() as ArrayLike<number | bigint>, (v) => {
      if (t.dtype === 'bool') return v === 1;
      if (typeof v === 'bigint') return String(v);
      if (Number.isNaN(v)) return 'nan';
      if (v === Infinity) return 'inf';
      if (v === -Infinity) return '-inf';
      return v;
    });
  }

  function assertMatches(loaded: Record<string, torch.Tensor>, expected: Expected['tensors']): void {
    assert.deepEqual(Object.keys(loaded).sort(), Object.keys(expected).sort());
    for (const [name, e] of Object.entries(expected)) {
      const t = loaded[name];
      assert.equal(CODE[t.dtype], e.dtype, name);
      assert.deepEqual(t.shape, e.shape, name);
      const got = encodeValues(t);
      assert.equal(got.length, e.values.length, name);
      // Object.is tells -0 from 0.
      for (let i = 0; i < got.length; i++) assert.ok(Object.is(got[i], e.values[i]), `${name}[${i}]: ${String(got[i])} vs ${String(e.values[i])}`);
    }
  }

  test('the committed PyTorch-written fixture loads with the expected values', async () => {
    const file = join(fixtureDir, 'from_pytorch.safetensors');
    const expected = JSON.parse(readFileSync(join(fixtureDir, 'from_pytorch.expected.json'), 'utf8')) as Expected;
    await noLeaksAsync(async () => {
      assertMatches(await loadSafetensors(file), expected.tensors);
      assert.deepEqual((await readSafetensorsHeader(file)).metadata, expected.metadata);
    });
    noLeaks(() => {
      const loaded = loadSafetensorsSync(file);
      assertMatches(loaded, expected.tensors);
      assert.deepEqual(loaded['conv.weight'].shape, [4, 3, 3, 3]);
      assert.deepEqual(loaded.scalar.shape, []);
      assert.equal(loaded.scalar.item(), 2.5);
      assert.deepEqual(loaded.empty.shape, [0, 4]);
      // Writing what we loaded gives back the very same bytes.
      const header = readSafetensorsHeaderSync(file);
      assert.ok(serializeSafetensors(loaded, header.metadata ?? undefined).equals(readFileSync(file)));
    });
  });

  const python = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  const skip = python.status !== 0 ? `${PYTHON} with torch is not available` : false;

  test('a file we write is read correctly by the Python peer', { skip }, () => {
    noLeaks(() => {
      const cases = everything();
      const tensors = tensorsOf(cases);
      tensors['specials.f32'] = torch.tensor(new Float32Array([NaN, Infinity, -Infinity, -0, 1e-45, 3.4028234663852886e38]));
      tensors['specials.f16'] = torch.tensor(new Float32Array([NaN, Infinity, -0, 65504, 6e-8])).to('float16');
      tensors['specials.i64'] = torch.tensor(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n]));
      const path = join(dir, 'for_python.safetensors');
      const metadata = { format: 'pt', note: 'ünïcode ✓' };
      saveSafetensorsSync(path, tensors, metadata);
      const run = spawnSync(PYTHON, [peerScript, 'dump', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
      assert.equal(run.status, 0, run.stderr + run.stdout);
      const dumped = JSON.parse(run.stdout) as Expected & { reserialized_identical: boolean };
      assert.deepEqual(dumped.metadata, metadata);
      assertMatches(Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.detach().contiguous()])), dumped.tensors);
      assert.equal(dumped.reserialized_identical, true, 'the Python writer lays out the same tensors byte for byte the same');
    });
  });

  test('the Python peer checks our re-save of the fixture', { skip }, () => {
    noLeaks(() => {
      const path = join(dir, 'fixture_resaved.safetensors');
      const file = join(fixtureDir, 'from_pytorch.safetensors');
      saveSafetensorsSync(path, loadSafetensorsSync(file), readSafetensorsHeaderSync(file).metadata ?? undefined);
      const run = spawnSync(PYTHON, [peerScript, 'check', path, join(fixtureDir, 'from_pytorch.expected.json')], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.equal(run.stdout.trim(), 'OK');
    });
  });
});

describe('malformed files', () => {
  let counter = 0;

  function fileBytes(header: string | Buffer | object, data: Uint8Array | number = 0, declaredLength?: bigint): Buffer {
    const json = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(declaredLength ?? BigInt(json.length));
    return Buffer.concat([length, json, typeof data === 'number' ? Buffer.alloc(data) : data]);
  }

  /** The bytes fail to load, as a file (sync and async) and in memory, with a SafetensorsError. */
  async function assertBad(bytes: Uint8Array, pattern: RegExp, { headerOnly = true } = {}): Promise<void> {
    const path = join(dir, `bad-${counter++}.safetensors`);
    writeFileSync(path, bytes);
    const check = (err: unknown, file: string | undefined): boolean => {
      assert.ok(err instanceof SafetensorsError, `expected a SafetensorsError, got ${String(err)}`);
      assert.equal(err.file, file);
      assert.ok(err.message.includes(file ?? '<buffer>'), err.message);
      assert.match(err.message, pattern);
      return true;
    };
    const before = torch.memory().tensors;
    assert.throws(
      () => loadSafetensorsSync(path),
      (e) => check(e, path),
    );
    await assert.rejects(loadSafetensors(path), (e) => check(e, path));
    assert.throws(
      () => deserializeSafetensors(bytes),
      (e) => check(e, undefined),
    );
    if (headerOnly) {
      assert.throws(
        () => readSafetensorsHeaderSync(path),
        (e) => check(e, path),
      );
      await assert.rejects(readSafetensorsHeader(path), (e) => check(e, path));
    }
    assert.equal(torch.memory().tensors, before);
  }

  const f32 = (shape: number[], offsets: [number, number]) => ({ dtype: 'F32', shape, data_offsets: offsets });

  test('too short, or a header length beyond the file', async () => {
    await assertBad(Buffer.alloc(0), /0 bytes is too short/);
    await assertBad(Buffer.from([1, 2, 3, 4]), /4 bytes is too short/);
    await assertBad(fileBytes('{}', 0, 1000n), /header length 1000 is larger than the file \(10 bytes\)/);
    await assertBad(fileBytes('{}', 0, 2n ** 64n - 1n), /header length 18446744073709551615 is larger than the file/);
    await assertBad(fileBytes('', 0), /header length 0 is too small/);
  });

  test('bad header text', async () => {
    await assertBad(fileBytes('not json'), /does not start with '\{'/);
    await assertBad(fileBytes('[1, 2]  '), /does not start with '\{'/);
    await assertBad(fileBytes('{"a": {"dtype": '), /not valid JSON/);
    await assertBad(fileBytes(Buffer.concat([Buffer.from('{"'), Buffer.from([0xff, 0xfe]), Buffer.from('":1}')])), /not valid UTF-8/);
    await assertBad(fileBytes('{"a": 1}'), /tensor "a": expected \{dtype, shape, data_offsets\}, got number 1/);
    await assertBad(
      fileBytes('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 4),
      /names "a" twice/,
    );
    await assertBad(fileBytes({ __metadata__: { epoch: 3 } }), /__metadata__ values must be strings, "epoch" is number 3/);
    await assertBad(fileBytes({ __metadata__: ['x'] }), /__metadata__ must be an object of strings/);
  });

  test('bad tensor entries', async () => {
    await assertBad(fileBytes({ w: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, 4), /tensor "w": unknown dtype "F33"/);
    await assertBad(fileBytes({ w: { dtype: 'U32', shape: [1], data_offsets: [0, 4] } }, 4), /tensor "w": dtype U32 is not supported/);
    await assertBad(fileBytes({ w: { dtype: 'constructor', shape: [1], data_offsets: [0, 4] } }, 4), /unknown dtype "constructor"/);
    await assertBad(fileBytes({ w: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor "w": dtype must be a string/);
    await assertBad(fileBytes({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /shape must be an array of non-negative integers, got \[-1\]/);
    await assertBad(fileBytes({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4), /shape must be an array of non-negative integers/);
    await assertBad(fileBytes({ w: { dtype: 'F32', shape: [1] } }, 4), /data_offsets must be \[begin, end\]/);
    await assertBad(fileBytes({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, 4), /data_offsets \[4, 0\] end before they begin/);
    await assertBad(fileBytes({ w: f32([2, 3], [0, 20]) }, 20), /tensor "w": dtype F32 and shape \[2,3\] need 24 bytes, but data_offsets \[0, 20\] hold 20/);
    await assertBad(fileBytes({ w: f32([1e10, 1e10], [0, 4]) }, 4), /too large|need/);
  });

  test('overlapping, gapped, truncated and oversized data', async () => {
    await assertBad(
      fileBytes({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12),
      /tensor "b" \(data_offsets \[4, 12\]\) overlaps tensor "a", which ends at byte 8/,
    );
    await assertBad(fileBytes({ a: f32([2], [0, 8]), b: f32([2], [12, 20]) }, 20), /a gap of 4 bytes between tensor "a", which ends at byte 8, and tensor "b"/);
    await assertBad(fileBytes({ a: f32([2], [4, 12]) }, 12), /a gap of 4 bytes between the start of the data section and tensor "a"/);
    await assertBad(
      fileBytes({ a: f32([2], [0, 8]), b: f32([2], [8, 16]) }, 12),
      /truncated: tensor "b" ends at byte 16 of the data section, which holds only 12 bytes/,
    );
    await assertBad(fileBytes({ a: f32([2], [0, 8]) }, 9), /the tensors cover 8 bytes of data but the data section holds 9: 1 bytes follow the last tensor/);
  });

  test('bool bytes other than 0 and 1', async () => {
    await assertBad(
      fileBytes({ m: { dtype: 'BOOL', shape: [3], data_offsets: [0, 3] } }, Buffer.from([1, 0, 2])),
      /tensor "m" \(BOOL\) holds the byte 2 at element 2/,
      { headerOnly: false },
    );
  });

  test('every truncation of a valid file, and random corruption of its header, fail cleanly', () => {
    noLeaks(() => {
      const good = serializeSafetensors(
        { w: torch.randn([2, 3]), b: torch.tensor([1, 2], { dtype: 'int64' }), m: torch.tensor([true, false]), h: torch.ones([2]).to('float16') },
        { k: 'v' },
      );
      for (let cut = 0; cut < good.length; cut++) {
        assert.throws(() => deserializeSafetensors(good.subarray(0, cut)), SafetensorsError, `cut at ${cut}`);
      }
      const n = 8 + Number(good.readBigUInt64LE(0));
      let seed = 12345;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      let loaded = 0;
      for (let trial = 0; trial < 3000; trial++) {
        const bad = Buffer.from(good);
        const flips = 1 + Math.floor(random() * 3);
        for (let f = 0; f < flips; f++) bad[Math.floor(random() * n)] = Math.floor(random() * 256);
        torch.tidy(() => {
          try {
            deserializeSafetensors(bad);
            loaded++;
          } catch (err) {
            assert.ok(err instanceof SafetensorsError, `trial ${trial}: ${String(err)}`);
          }
        });
      }
      assert.ok(loaded < 3000);
    });
  });
});

describe('atomic saves', () => {
  const temps = (d: string) => readdirSync(d).filter((f) => f.includes('.tmp-'));

  function fresh(name: string): { d: string; path: string } {
    const d = join(dir, name);
    mkdirSync(d);
    const path = join(d, 'model.safetensors');
    writeFileSync(path, 'OLD CONTENTS');
    return { d, path };
  }

  /** A Tensor whose data cannot be read (as if copying it from the device failed). */
  function unreadable(real: torch.Tensor): torch.Tensor {
    const n = real.native;
    const fake = {
      shape: () => n.shape(),
      dtype: () => n.dtype(),
      numel: () => n.numel(),
      device: () => n.device(),
      isDisposed: () => n.isDisposed(),
      dispose: () => undefined,
      toBuffer: () => {
        throw new Error('device lost');
      },
    };
    return new torch.Tensor(fake as unknown as NativeTensor);
  }

  test('a missing target directory fails without creating anything', async () => {
    await noLeaksAsync(async () => {
      const path = join(dir, 'no', 'such', 'dir', 'x.safetensors');
      assert.throws(() => saveSafetensorsSync(path, { a: torch.ones([2]) }), /ENOENT/);
      await assert.rejects(saveSafetensors(path, { a: torch.ones([2]) }), /ENOENT/);
      assert.ok(!existsSync(join(dir, 'no')));
    });
  });

  test('a tensor that fails to serialise mid-write leaves the old file and no temp file', async () => {
    await noLeaksAsync(async () => {
      const { d, path } = fresh('midwrite');
      const tensors = { a: torch.ones([1000]), z: unreadable(torch.ones([1000])) };
      assert.throws(() => saveSafetensorsSync(path, tensors), /device lost/);
      assert.equal(readFileSync(path, 'utf8'), 'OLD CONTENTS');
      assert.deepEqual(temps(d), []);
      await assert.rejects(saveSafetensors(path, tensors), /device lost/);
      assert.equal(readFileSync(path, 'utf8'), 'OLD CONTENTS');
      assert.deepEqual(temps(d), []);
    });
  });

  test('invalid tensors and metadata are refused before anything is written', async () => {
    await noLeaksAsync(async () => {
      const { d, path } = fresh('invalid');
      const disposed = torch.ones([2]);
      disposed.dispose();
      const bad: [unknown, unknown, RegExp][] = [
        [{ a: torch.ones([2]), b: 3 }, undefined, /"b" is not a Tensor/],
        [{ a: disposed }, undefined, /tensor "a" is disposed/],
        [{ __metadata__: torch.ones([1]) }, undefined, /"__metadata__" is reserved/],
        [{ ['\ud800']: torch.ones([1]) }, undefined, /not valid Unicode/],
        [{ a: torch.ones([1]) }, { epoch: 3 }, /metadata values must be strings/],
        [[torch.ones([1])], undefined, /must be a Record or Map/],
      ];
      for (const [tensors, metadata, pattern] of bad) {
        const call = () => saveSafetensorsSync(path, tensors as Record<string, torch.Tensor>, metadata as Record<string, string>);
        assert.throws(call, (e) => e instanceof SafetensorsError && e.file === path && pattern.test(e.message));
        await assert.rejects(saveSafetensors(path, tensors as Record<string, torch.Tensor>, metadata as Record<string, string>), SafetensorsError);
        assert.throws(() => serializeSafetensors(tensors as Record<string, torch.Tensor>, metadata as Record<string, string>), SafetensorsError);
      }
      assert.equal(readFileSync(path, 'utf8'), 'OLD CONTENTS');
      assert.deepEqual(temps(d), []);
    });
  });

  test('a rename that fails (the target is a directory) removes the temp file', async () => {
    await noLeaksAsync(async () => {
      const { d } = fresh('rename');
      const target = join(d, 'is-a-dir.safetensors');
      mkdirSync(target);
      writeFileSync(join(target, 'keep'), 'x');
      assert.throws(() => saveSafetensorsSync(target, { a: torch.ones([2]) }), /EISDIR|ENOTEMPTY|EEXIST/);
      await assert.rejects(saveSafetensors(target, { a: torch.ones([2]) }), /EISDIR|ENOTEMPTY|EEXIST/);
      assert.deepEqual(temps(d), []);
      assert.equal(readFileSync(join(target, 'keep'), 'utf8'), 'x');
    });
  });

  test('a successful save replaces the old file whole', async () => {
    await noLeaksAsync(async () => {
      const { d, path } = fresh('replace');
      saveSafetensorsSync(path, { a: torch.ones([2]) });
      assert.deepEqual(loadSafetensorsSync(path).a.tolist(), [1, 1]);
      await saveSafetensors(path, { b: torch.zeros([3]) });
      assert.deepEqual(Object.keys(await loadSafetensors(path)), ['b']);
      assert.deepEqual(temps(d), []);
    });
  });
});
