#!/usr/bin/python3
"""A pure-Python safetensors reader and writer for torch tensors (json + struct + torch.frombuffer),
written from the format's specification, as the PyTorch side of @adaseg/torch's serialisation tests.
The `safetensors` package is not needed.

  safetensors_peer.py fixture OUT_DIR   write from_pytorch.safetensors and from_pytorch.expected.json
  safetensors_peer.py dump FILE         print {"metadata", "tensors": {name: {dtype, shape, values}}}
                                        as JSON; also "reserialized_identical": whether writing the
                                        loaded tensors again gives the same bytes as FILE
  safetensors_peer.py check FILE EXPECTED_JSON
                                        load FILE and compare it to EXPECTED_JSON exactly; exit 1 on
                                        any difference

Values in the JSON: floats as numbers except "nan", "inf", "-inf" (strings, JSON has none); int64
as decimal strings (JS numbers cannot hold all of them); bools as true/false.
"""
import json
import math
import struct
import sys

import torch

DTYPES = {
    'F64': torch.float64,
    'F32': torch.float32,
    'F16': torch.float16,
    'BF16': torch.bfloat16,
    'I64': torch.int64,
    'I32': torch.int32,
    'I16': torch.int16,
    'I8': torch.int8,
    'U8': torch.uint8,
    'BOOL': torch.bool,
}
CODES = {v: k for k, v in DTYPES.items()}
# Position in the reference implementation's Dtype enum: it sorts by this (descending), then name.
RANK = {'BOOL': 0, 'U8': 1, 'I8': 2, 'I16': 5, 'F16': 7, 'BF16': 8, 'I32': 9, 'F32': 11, 'F64': 12, 'I64': 13}
MAX_HEADER_SIZE = 100_000_000


class FormatError(Exception):
    pass


def tensor_bytes(t):
    flat = t.detach().cpu().contiguous().reshape(-1)
    if flat.numel() == 0:
        return b''
    raw = flat.view(torch.uint8).numpy().tobytes()
    if sys.byteorder != 'little' and flat.element_size() > 1:
        size = flat.element_size()
        raw = b''.join(raw[i:i + size][::-1] for i in range(0, len(raw), size))
    return raw


def serialize(tensors, metadata=None):
    items = sorted(tensors.items(), key=lambda kv: (-RANK[CODES[kv[1].dtype]], kv[0].encode('utf-8')))
    header = {}
    if metadata is not None:
        header['__metadata__'] = {k: metadata[k] for k in sorted(metadata, key=lambda k: k.encode('utf-8'))}
    chunks = []
    offset = 0
    for name, t in items:
        data = tensor_bytes(t)
        header[name] = {'dtype': CODES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        chunks.append(data)
    text = json.dumps(header, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    return struct.pack('<Q', len(text)) + text + b''.join(chunks)


def deserialize(buf):
    """(tensors, metadata) from safetensors bytes, validating as the reference implementation does."""
    if len(buf) < 8:
        raise FormatError('file shorter than 8 bytes')
    (n,) = struct.unpack('<Q', buf[:8])
    if n > MAX_HEADER_SIZE or 8 + n > len(buf):
        raise FormatError(f'bad header length {n} for {len(buf)} bytes')
    header = json.loads(buf[8:8 + n].decode('utf-8'), object_pairs_hook=_no_duplicates)
    metadata = header.pop('__metadata__', None)
    data = memoryview(buf)[8 + n:]
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]['data_offsets']))
    position = 0
    tensors = {}
    for name, info in entries:
        dtype = DTYPES[info['dtype']]
        shape = [int(d) for d in info['shape']]
        begin, end = info['data_offsets']
        if begin != position or end < begin:
            raise FormatError(f'tensor {name!r}: offsets [{begin}, {end}] do not follow {position}')
        numel = math.prod(shape)
        size = torch.empty((), dtype=dtype).element_size()
        if end - begin != numel * size:
            raise FormatError(f'tensor {name!r}: {end - begin} bytes for shape {shape} of {info["dtype"]}')
        position = end
        if numel == 0:
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        raw = bytes(data[begin:end])
        if sys.byteorder != 'little' and size > 1:
            raw = b''.join(raw[i:i + size][::-1] for i in range(0, len(raw), size))
        # A fresh bytearray is suitably aligned; clone so the tensor owns its memory.
        tensors[name] = torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape).clone()
    if position != len(data):
        raise FormatError(f'tensors cover {position} bytes, the data section holds {len(data)}')
    return tensors, metadata


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise FormatError(f'duplicate key {k!r}')
        out[k] = v
    return out


def encode_value(v, code):
    if code == 'BOOL':
        return bool(v)
    if code == 'I64':
        return str(int(v))
    if code in ('I32', 'I16', 'I8', 'U8'):
        return int(v)
    if math.isnan(v):
        return 'nan'
    if math.isinf(v):
        return 'inf' if v > 0 else '-inf'
    return float(v)


def describe(tensors, metadata):
    out = {}
    for name in sorted(tensors):
        t = tensors[name]
        code = CODES[t.dtype]
        flat = t.reshape(-1)
        if code in ('F16', 'BF16'):
            flat = flat.float()  # exact: both widen to float32 without rounding
        out[name] = {'dtype': code, 'shape': list(t.shape), 'values': [encode_value(v, code) for v in flat.tolist()]}
    return {'metadata': metadata, 'tensors': out}


def fixture_tensors():
    g = torch.Generator().manual_seed(0)
    f16 = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.0e-8, 0.333251953125, float('inf'), float('-inf'), float('nan')], dtype=torch.float16)
    return {
        'conv.weight': torch.randn(4, 3, 3, 3, generator=g),
        'conv.bias': torch.randn(4, generator=g),
        'specials.f32': torch.tensor([float('nan'), float('inf'), float('-inf'), -0.0, 1e-45, 3.4028234663852886e38, 1.0 / 3.0]),
        'f64': torch.tensor([[1.0 / 3.0, -0.0, 1e-300], [2.0 ** 60, -7.25, math.pi]], dtype=torch.float64),
        'half': f16.reshape(2, 5),
        'bhalf': torch.tensor([[1.0, -0.0078125], [3.0e38, -1.5], [float('inf'), 0.1]], dtype=torch.bfloat16),
        'long': torch.tensor([0, -1, 2 ** 53 + 1, -(2 ** 63), 2 ** 63 - 1], dtype=torch.int64),
        'int32': torch.tensor([[-(2 ** 31), 2 ** 31 - 1], [7, -7]], dtype=torch.int32),
        'int16': torch.tensor([-32768, 32767, 0], dtype=torch.int16),
        'int8': torch.tensor([-128, 127, -1, 0], dtype=torch.int8),
        'uint8': torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
        'mask': torch.tensor([[True, False, True], [False, False, True]]),
        'scalar': torch.tensor(2.5),
        'scalar.long': torch.tensor(-42, dtype=torch.int64),
        'empty': torch.zeros(0, 4),
        'empty.long': torch.zeros(3, 0, dtype=torch.int64),
        'transposed': torch.arange(6, dtype=torch.float32).reshape(2, 3).t(),  # written contiguous
        '0': torch.tensor([1.0]),  # an integer-like name
    }


FIXTURE_METADATA = {'format': 'pt', 'producer': 'scripts/safetensors_peer.py', 'epoch': '3', 'note': 'ünïcode ✓'}


def main(argv):
    if len(argv) >= 2 and argv[0] == 'fixture':
        out_dir = argv[1].rstrip('/')
        tensors = fixture_tensors()
        data = serialize(tensors, FIXTURE_METADATA)
        with open(f'{out_dir}/from_pytorch.safetensors', 'wb') as f:
            f.write(data)
        loaded, metadata = deserialize(data)
        with open(f'{out_dir}/from_pytorch.expected.json', 'w', encoding='utf-8') as f:
            json.dump(describe(loaded, metadata), f, ensure_ascii=False, indent=1)
            f.write('\n')
        print(f'wrote {len(data)} bytes, {len(tensors)} tensors')
        return 0
    if len(argv) == 2 and argv[0] == 'dump':
        with open(argv[1], 'rb') as f:
            data = f.read()
        try:
            tensors, metadata = deserialize(data)
        except (FormatError, KeyError, ValueError, TypeError) as e:
            print(json.dumps({'error': f'{type(e).__name__}: {e}'}))
            return 1
        out = describe(tensors, metadata)
        out['reserialized_identical'] = serialize(tensors, metadata) == data
        print(json.dumps(out, ensure_ascii=False))
        return 0
    if len(argv) == 3 and argv[0] == 'check':
        with open(argv[1], 'rb') as f:
            tensors, metadata = deserialize(f.read())
        with open(argv[2], encoding='utf-8') as f:
            expected = json.load(f)
        got = describe(tensors, metadata)
        problems = []
        if got['metadata'] != expected['metadata']:
            problems.append(f'metadata {got["metadata"]} != {expected["metadata"]}')
        for name in sorted(set(got['tensors']) | set(expected['tensors'])):
            if json.dumps(got["tensors"].get(name)) != json.dumps(expected["tensors"].get(name)):
                problems.append(f'tensor {name!r}: {got["tensors"].get(name)} != {expected["tensors"].get(name)}')
        print('\n'.join(problems) if problems else 'OK')
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
