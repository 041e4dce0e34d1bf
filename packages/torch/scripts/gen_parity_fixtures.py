#!/usr/bin/python3
"""Records PyTorch's answers for test/parity.test.ts, so that test needs no Python.

Run with Debian's PyTorch (the same libtorch 1.13 the addon links):

    /usr/bin/python3 packages/torch/scripts/gen_parity_fixtures.py

Each case names an op (a key of OPS here and of the op table in test/parity.test.ts), its input
tensors (generated from a seed derived from the case id) and keyword args in the TS API's
camelCase names. A kwarg value {"$input": i} stands for input tensor i. For every case the
fixture holds the inputs' values, the forward output(s) and, for differentiable float cases, the
gradients of sum(output_i * weight_i) w.r.t. every float input that requires grad (the random
weights are recorded too).

Tensors are written as {shape, dtype, data} with data flat in row-major order; float32 values
are the shortest decimal strings that round-trip to the same float32 ("nan", "inf" and "-inf"
as strings), bools as 0/1.
"""
import json
import math
import os
import re
import zlib

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'parity.json')

DTYPES = {
    'float32': torch.float32,
    'float64': torch.float64,
    'int64': torch.int64,
    'int32': torch.int32,
    'uint8': torch.uint8,
    'bool': torch.bool,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
# dtypes only printed, never stored in the fixture
TO_DTYPES = dict(DTYPES, float16=torch.float16, bfloat16=torch.bfloat16, int8=torch.int8, int16=torch.int16)


# ---------------------------------------------------------------------------------------------
# Input specs


def R(*shape, grad=None, scale=1.0):
    """Standard normal float32 (times scale)."""
    return {'kind': 'randn', 'shape': list(shape), 'dtype': 'float32', 'grad': grad, 'scale': scale}


def U(*shape, lo=0.0, hi=1.0, grad=None, dtype='float32'):
    """Uniform in [lo, hi)."""
    return {'kind': 'uniform', 'shape': list(shape), 'dtype': dtype, 'grad': grad, 'lo': lo, 'hi': hi}


def P(*shape, grad=None):
    """Positive: uniform in [0.5, 2)."""
    return U(*shape, lo=0.5, hi=2.0, grad=grad)


def I(*shape, low=0, high=10, dtype='int64'):
    return {'kind': 'int', 'shape': list(shape), 'dtype': dtype, 'low': low, 'high': high, 'grad': False}


def B(*shape):
    return {'kind': 'bool', 'shape': list(shape), 'dtype': 'bool', 'grad': False}


def V(values, dtype='float32', grad=None):
    """Explicit values (nested lists give the shape)."""
    return {'kind': 'values', 'values': values, 'dtype': dtype, 'grad': grad}


def make_input(spec, g):
    dtype = DTYPES[spec['dtype']]
    kind = spec['kind']
    if kind == 'randn':
        t = (torch.randn(spec['shape'], generator=g, dtype=torch.float64) * spec['scale']).to(dtype)
    elif kind == 'uniform':
        t = (torch.rand(spec['shape'], generator=g, dtype=torch.float64) * (spec['hi'] - spec['lo']) + spec['lo']).to(dtype)
    elif kind == 'int':
        t = torch.randint(spec['low'], spec['high'], spec['shape'], generator=g).to(dtype)
    elif kind == 'bool':
        t = torch.rand(spec['shape'], generator=g) < 0.5
    elif kind == 'values':
        t = torch.tensor(spec['values'], dtype=dtype)
    else:
        raise ValueError(kind)
    return t


# ---------------------------------------------------------------------------------------------
# Encoding


def enc_float32(v):
    if math.isnan(v):
        return 'nan'
    if math.isinf(v):
        return 'inf' if v > 0 else '-inf'
    return float(str(np.float32(v)))  # shortest digits that give back this float32


def enc_float64(v):
    if math.isnan(v):
        return 'nan'
    if math.isinf(v):
        return 'inf' if v > 0 else '-inf'
    return v


def encode(t, shape_only=False, layout=False):
    t = t.detach()
    out = {'shape': list(t.shape), 'dtype': DTYPE_NAMES[t.dtype]}
    if layout:
        out['strides'] = list(t.stride())
        out['contiguous'] = t.is_contiguous()
    if shape_only:
        return out
    flat = t.contiguous().reshape(-1)
    if t.dtype == torch.float32:
        out['data'] = [enc_float32(v) for v in flat.tolist()]
    elif t.dtype == torch.float64:
        out['data'] = [enc_float64(v) for v in flat.tolist()]
    elif t.dtype == torch.bool:
        out['data'] = [1 if v else 0 for v in flat.tolist()]
    else:
        out['data'] = flat.tolist()
    return out


# ---------------------------------------------------------------------------------------------
# Ops: each takes (inputs, kwargs) with {"$input": i} kwargs already resolved to tensors.


def snake(name):
    return re.sub(r'([A-Z])', lambda m: '_' + m.group(1).lower(), name)


def kw(k, *skip):
    """kwargs in PyTorch's names: camelCase to snake_case, dtype names to torch dtypes."""
    out = {}
    for key, v in k.items():
        if key in skip or key == 'seed':
            continue
        out[snake(key)] = DTYPES[v] if key == 'dtype' else v
    return out


def seeded(k):
    if 'seed' in k:
        torch.manual_seed(k['seed'])


def other(x, k):
    return x[1] if len(x) > 1 else k['other']


def slice_along(t, dim, start, end, step):
    dim = dim % t.dim()
    return t[(slice(None),) * dim + (slice(start, end, step),)]


def batch_norm(x, k):
    rm, rv = k.get('runningMean'), k.get('runningVar')
    out = F.batch_norm(x[0], rm, rv, **kw(k, 'runningMean', 'runningVar'))
    return [out] + [t for t in (rm, rv) if t is not None]


OPS = {
    # creation
    'tensor': lambda x, k: torch.tensor(k['data'], **kw(k, 'data')),
    'zeros': lambda x, k: torch.zeros(k['shape'], **kw(k, 'shape')),
    'ones': lambda x, k: torch.ones(k['shape'], **kw(k, 'shape')),
    'empty': lambda x, k: torch.empty(k['shape'], **kw(k, 'shape')),
    'full': lambda x, k: torch.full(k['shape'], k['value'], **kw(k, 'shape', 'value')),
    'arange': lambda x, k: torch.arange(*k['args'], **kw(k, 'args')),
    'linspace': lambda x, k: torch.linspace(k['start'], k['end'], k['steps'], **kw(k, 'start', 'end', 'steps')),
    'rand': lambda x, k: (seeded(k), torch.rand(k['shape'], **kw(k, 'shape')))[1],
    'randn': lambda x, k: (seeded(k), torch.randn(k['shape'], **kw(k, 'shape')))[1],
    'randint': lambda x, k: (seeded(k), torch.randint(k['low'], k['high'], k['shape'], **kw(k, 'low', 'high', 'shape')))[1],
    'zerosLike': lambda x, k: torch.zeros_like(x[0], **kw(k)),
    'onesLike': lambda x, k: torch.ones_like(x[0], **kw(k)),
    'emptyLike': lambda x, k: torch.empty_like(x[0], **kw(k)),
    'fullLike': lambda x, k: torch.full_like(x[0], k['value'], **kw(k, 'value')),
    'randLike': lambda x, k: (seeded(k), torch.rand_like(x[0], **kw(k)))[1],
    'randnLike': lambda x, k: (seeded(k), torch.randn_like(x[0], **kw(k)))[1],
    'randintLike': lambda x, k: (seeded(k), torch.randint_like(x[0], k['low'], k['high'], **kw(k, 'low', 'high')))[1],
    # pointwise
    'add': lambda x, k: x[0].add(other(x, k), **kw(k, 'other')),
    'sub': lambda x, k: x[0].sub(other(x, k), **kw(k, 'other')),
    'mul': lambda x, k: x[0].mul(other(x, k)),
    'div': lambda x, k: x[0].div(other(x, k), **kw(k, 'other')),
    'neg': lambda x, k: x[0].neg(),
    'pow': lambda x, k: x[0].pow(other(x, k)),
    'exp': lambda x, k: x[0].exp(),
    'log': lambda x, k: x[0].log(),
    'sqrt': lambda x, k: x[0].sqrt(),
    'abs': lambda x, k: x[0].abs(),
    'clamp': lambda x, k: x[0].clamp(**kw(k)),
    'sigmoid': lambda x, k: x[0].sigmoid(),
    'tanh': lambda x, k: x[0].tanh(),
    'relu': lambda x, k: x[0].relu(),
    'F.relu': lambda x, k: F.relu(x[0]),
    'F.sigmoid': lambda x, k: torch.sigmoid(x[0]),
    'F.tanh': lambda x, k: torch.tanh(x[0]),
    'leakyRelu': lambda x, k: F.leaky_relu(x[0], **kw(k)),
    'softmax': lambda x, k: x[0].softmax(**kw(k)),
    'logSoftmax': lambda x, k: x[0].log_softmax(**kw(k)),
    'F.softmax': lambda x, k: F.softmax(x[0], **kw(k)),
    'F.logSoftmax': lambda x, k: F.log_softmax(x[0], **kw(k)),
    'matmul': lambda x, k: torch.matmul(x[0], x[1]),
    'Tensor.matmul': lambda x, k: x[0].matmul(x[1]),
    # reductions
    'sum': lambda x, k: x[0].sum(**kw(k)),
    'mean': lambda x, k: x[0].mean(**kw(k)),
    'max': lambda x, k: x[0].max(**kw(k)),
    'min': lambda x, k: x[0].min(**kw(k)),
    'argmax': lambda x, k: x[0].argmax(**kw(k)),
    'argmin': lambda x, k: x[0].argmin(**kw(k)),
    'topk': lambda x, k: x[0].topk(k['k'], **kw(k, 'k')),
    'sort': lambda x, k: x[0].sort(**kw(k)),
    'cumsum': lambda x, k: x[0].cumsum(**kw(k)),
    # comparison and logic
    'eq': lambda x, k: x[0].eq(other(x, k)),
    'ne': lambda x, k: x[0].ne(other(x, k)),
    'lt': lambda x, k: x[0].lt(other(x, k)),
    'le': lambda x, k: x[0].le(other(x, k)),
    'gt': lambda x, k: x[0].gt(other(x, k)),
    'ge': lambda x, k: x[0].ge(other(x, k)),
    'logicalAnd': lambda x, k: x[0].logical_and(x[1]),
    'logicalOr': lambda x, k: x[0].logical_or(x[1]),
    'logicalXor': lambda x, k: x[0].logical_xor(x[1]),
    'logicalNot': lambda x, k: x[0].logical_not(),
    'where': lambda x, k: torch.where(x[0], k['x'], k['y']),
    # Tensor.where takes no scalar in torch 1.13: torch.where(cond, self, other) is what it means
    'Tensor.where': lambda x, k: torch.where(x[1], x[0], k['other']),
    'maskedFill': lambda x, k: x[0].masked_fill(x[1], k['value']),
    # shape and indexing
    'reshape': lambda x, k: x[0].reshape(k['shape']),
    'view': lambda x, k: x[0].view(k['shape']),
    'permute': lambda x, k: x[0].permute(k['dims']),
    'transpose': lambda x, k: x[0].transpose(k['dim0'], k['dim1']),
    'contiguous': lambda x, k: x[0].transpose(k['dim0'], k['dim1']).contiguous(),
    'squeeze': lambda x, k: x[0].squeeze(**kw(k)),
    'unsqueeze': lambda x, k: x[0].unsqueeze(k['dim']),
    'expand': lambda x, k: x[0].expand(k['shape']),
    'repeat': lambda x, k: x[0].repeat(k['repeats']),
    'flip': lambda x, k: x[0].flip(k['dims']),
    'cat': lambda x, k: torch.cat(x, **kw(k)),
    'stack': lambda x, k: torch.stack(x, **kw(k)),
    'split': lambda x, k: x[0].split(k['splitSize'], **kw(k, 'splitSize')),
    'chunk': lambda x, k: x[0].chunk(k['chunks'], **kw(k, 'chunks')),
    'narrow': lambda x, k: x[0].narrow(k['dim'], k['start'], k['length']),
    'slice': lambda x, k: slice_along(x[0], k['dim'], k.get('start', 0), k.get('end'), k.get('step', 1)),
    'indexSelect': lambda x, k: x[0].index_select(k['dim'], x[1]),
    'gather': lambda x, k: x[0].gather(k['dim'], x[1]),
    'scatter': lambda x, k: x[0].scatter(k['dim'], x[1], x[2] if len(x) > 2 else k['value'], **kw(k, 'dim', 'value')),
    'scatterAdd': lambda x, k: x[0].scatter_add(k['dim'], x[1], x[2]),
    'oneHot': lambda x, k: F.one_hot(x[0], **kw(k)),
    'pad': lambda x, k: F.pad(x[0], k['padding'], **kw(k, 'padding')),
    # nn.functional
    'conv2d': lambda x, k: F.conv2d(x[0], x[1], **kw(k)),
    'convTranspose2d': lambda x, k: F.conv_transpose2d(x[0], x[1], **kw(k)),
    'maxPool2d': lambda x, k: F.max_pool2d(x[0], k['kernelSize'], **kw(k, 'kernelSize')),
    'maxPool2dWithIndices': lambda x, k: F.max_pool2d(x[0], k['kernelSize'], return_indices=True, **kw(k, 'kernelSize')),
    'avgPool2d': lambda x, k: F.avg_pool2d(x[0], k['kernelSize'], **kw(k, 'kernelSize')),
    'adaptiveAvgPool2d': lambda x, k: F.adaptive_avg_pool2d(x[0], k['outputSize']),
    'interpolate': lambda x, k: F.interpolate(x[0], **kw(k)),
    'batchNorm': batch_norm,
    'dropout': lambda x, k: (seeded(k), F.dropout(x[0], **kw(k)))[1],
    'dropout2d': lambda x, k: (seeded(k), F.dropout2d(x[0], **kw(k)))[1],
    'crossEntropy': lambda x, k: F.cross_entropy(x[0], x[1], **kw(k)),
    'nllLoss': lambda x, k: F.nll_loss(x[0], x[1], **kw(k)),
    'binaryCrossEntropyWithLogits': lambda x, k: F.binary_cross_entropy_with_logits(x[0], x[1], **kw(k)),
    'mseLoss': lambda x, k: F.mse_loss(x[0], x[1], **kw(k)),
    'l1Loss': lambda x, k: F.l1_loss(x[0], x[1], **kw(k)),
    # in-place, on a clone so gradients flow to the inputs
    'add_': lambda x, k: x[0].clone().add_(other(x, k), **kw(k, 'other')),
    'mul_': lambda x, k: x[0].clone().mul_(other(x, k)),
    'addcmul_': lambda x, k: x[0].clone().addcmul_(x[1], x[2], **kw(k)),
    'addcdiv_': lambda x, k: x[0].clone().addcdiv_(x[1], x[2], **kw(k)),
    'sqrt_': lambda x, k: x[0].clone().sqrt_(),
    'zero_': lambda x, k: x[0].clone().zero_(),
    'fill_': lambda x, k: x[0].clone().fill_(k['value']),
    'copy_': lambda x, k: x[0].clone().copy_(x[1]),
    'clamp_': lambda x, k: x[0].clone().clamp_(**kw(k)),
    'lerp_': lambda x, k: x[0].clone().lerp_(x[1], x[2] if len(x) > 2 else k['weight']),
    # torch has no Tensor.maximum_: maximum with out=self is what ours does (no autograd for out=)
    'maximum_': lambda x, k: (lambda c: torch.maximum(c, x[1], out=c))(x[0].clone()),
    # beyond the required list: the rest of the Tensor and functional API
    'eye': lambda x, k: torch.eye(k['n'], **kw(k, 'n')),
    'randperm': lambda x, k: (seeded(k), torch.randperm(k['n'], **kw(k, 'n')))[1],
    'uniform_': lambda x, k: (seeded(k), x[0].clone().uniform_(**kw(k)))[1],
    'normal_': lambda x, k: (seeded(k), x[0].clone().normal_(**kw(k)))[1],
    'to': lambda x, k: x[0].to(DTYPES[k['dtype']]),
    'detach': lambda x, k: x[0].detach(),
    'rsqrt': lambda x, k: x[0].rsqrt(),
    'sign': lambda x, k: x[0].sign(),
    'floor': lambda x, k: x[0].floor(),
    'ceil': lambda x, k: x[0].ceil(),
    'round': lambda x, k: x[0].round(),
    'square': lambda x, k: x[0].square(),
    'reciprocal': lambda x, k: x[0].reciprocal(),
    'maximum': lambda x, k: x[0].maximum(x[1]),
    'minimum': lambda x, k: x[0].minimum(x[1]),
    'lerp': lambda x, k: x[0].lerp(x[1], x[2] if len(x) > 2 else k['weight']),
    'var': lambda x, k: x[0].var(**kw(k)),
    'std': lambda x, k: x[0].std(**kw(k)),
    'argsort': lambda x, k: x[0].argsort(**kw(k)),
    'all': lambda x, k: x[0].all(),
    'any': lambda x, k: x[0].any(),
    'isnan': lambda x, k: x[0].isnan(),
    'isfinite': lambda x, k: x[0].isfinite(),
    'flatten': lambda x, k: x[0].flatten(**kw(k)),
    'select': lambda x, k: x[0].select(k['dim'], k['index']),
    'T': lambda x, k: x[0].T,
    'expandAs': lambda x, k: x[0].expand_as(x[1]),
    'maskedSelect': lambda x, k: x[0].masked_select(x[1]),
    'index': lambda x, k: x[0][tuple(slice(None) if i is None else x[i] for i in k['indices'])],
    'nonzero': lambda x, k: x[0].nonzero(),
    'unique': lambda x, k: torch.unique(x[0], sorted=True, return_inverse=True, return_counts=True),
    'unique.values': lambda x, k: torch.unique(x[0]),
    'groupNorm': lambda x, k: F.group_norm(x[0], k['numGroups'], **kw(k, 'numGroups')),
    'sub_': lambda x, k: x[0].clone().sub_(other(x, k), **kw(k, 'other')),
    'div_': lambda x, k: x[0].clone().div_(other(x, k)),
    'neg_': lambda x, k: x[0].clone().neg_(),
    'relu_': lambda x, k: x[0].clone().relu_(),
    'maskedFill_': lambda x, k: x[0].clone().masked_fill_(x[1], k['value']),
    'scatter_': lambda x, k: x[0].clone().scatter_(k['dim'], x[1], x[2] if len(x) > 2 else k['value']),
    'scatterAdd_': lambda x, k: x[0].clone().scatter_add_(k['dim'], x[1], x[2]),
    'indexPut_': lambda x, k: x[0].clone().index_put_(tuple(x[i] for i in k['indices']), x[k['values']], **kw(k, 'indices', 'values')),
    # reading and printing
    'tolist': lambda x, k: x[0].tolist(),
    'item': lambda x, k: x[0].item(),
    'str': lambda x, k: str(x[0]),
    # a tensor-tensor product: Python's `x * 2` also runs mul.Tensor (MulBackward0), ours mul.Scalar
    'str.mul': lambda x, k: str(x[0] * x[1]),
    'str.to': lambda x, k: str(x[0].to(TO_DTYPES[k['dtype']])),
}

# Ops whose output is compared as a string or as JSON values instead of tensors.
STR_OPS = {'str', 'str.mul', 'str.to'}
JSON_OPS = {'tolist', 'item'}
# Ops with no gradient to check (non-differentiable, or autograd is not defined for them).
NO_GRAD_OPS = {
    'tensor', 'zeros', 'ones', 'empty', 'full', 'arange', 'linspace', 'rand', 'randn', 'randint',
    'zerosLike', 'onesLike', 'emptyLike', 'fullLike', 'randLike', 'randnLike', 'randintLike',
    'argmax', 'argmin', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr',
    'logicalXor', 'logicalNot', 'oneHot', 'maximum_', 'eye', 'randperm', 'uniform_', 'normal_',
    'argsort', 'all', 'any', 'isnan', 'isfinite', 'nonzero', 'unique', 'unique.values',
} | STR_OPS | JSON_OPS
# Ops whose output strides and contiguity are recorded too (views and layout changes).
LAYOUT_OPS = {
    'reshape', 'view', 'permute', 'transpose', 'contiguous', 'squeeze', 'unsqueeze', 'expand',
    'flip', 'split', 'chunk', 'narrow', 'slice', 'repeat', 'cat', 'stack', 'flatten', 'select', 'T',
    'expandAs', 'detach',
}

# ---------------------------------------------------------------------------------------------
# Cases

CASES = []


def case(cid, op, inputs=(), grad=True, shape_only=False, **kwargs):
    assert op in OPS, op
    assert all(c['id'] != cid for c in CASES), cid
    CASES.append({'id': cid, 'op': op, 'inputs': list(inputs), 'kwargs': kwargs, 'grad': grad, 'shape_only': shape_only})


def ref(i):
    return {'$input': i}


# creation
case('tensor/nested float', 'tensor', data=[[1.5, 2.0, -3.25], [4.0, 5.0, 6.125]])
case('tensor/int64', 'tensor', data=[[1, 2], [3, -4]], dtype='int64')
case('tensor/int32', 'tensor', data=[7, 8, 9], dtype='int32')
case('tensor/bool', 'tensor', data=[[True, False], [False, True]])
case('tensor/float64', 'tensor', data=[0.1, 0.2, 1e-300], dtype='float64')
case('tensor/scalar', 'tensor', data=2.5)
case('zeros', 'zeros', shape=[2, 3])
case('zeros/int64', 'zeros', shape=[4], dtype='int64')
case('ones', 'ones', shape=[3, 1, 2])
case('ones/bool', 'ones', shape=[2, 2], dtype='bool')
case('full/float', 'full', shape=[2, 3], value=2.5)
case('full/bool', 'full', shape=[3], value=True)
case('full/int64', 'full', shape=[2], value=7, dtype='int64')
case('empty', 'empty', shape_only=True, shape=[3, 4])
case('empty/float64', 'empty', shape_only=True, shape=[2, 0, 5], dtype='float64')
case('arange/end float', 'arange', args=[5.0])
case('arange/int64', 'arange', args=[5], dtype='int64')
case('arange/start end step', 'arange', args=[1.0, 2.0, 0.1])
case('arange/negative step', 'arange', args=[3.0, -2.0, -0.5])
case('linspace', 'linspace', start=0.0, end=1.0, steps=7)
case('linspace/reverse float64', 'linspace', start=2.0, end=-3.0, steps=6, dtype='float64')
case('linspace/one step', 'linspace', start=4.0, end=9.0, steps=1)
case('rand/seed 0', 'rand', seed=0, shape=[3, 5])
case('rand/seed 1234 float64', 'rand', seed=1234, shape=[7], dtype='float64')
case('randn/seed 0', 'randn', seed=0, shape=[4, 5])
case('randn/seed 7 large', 'randn', seed=7, shape=[40])
case('randn/seed 7 float64', 'randn', seed=7, shape=[20], dtype='float64')
case('randint/seed 0', 'randint', seed=0, low=0, high=10, shape=[12])
case('randint/seed 3 negative low', 'randint', seed=3, low=-5, high=5, shape=[3, 4])
case('randint/int32', 'randint', seed=3, low=0, high=100, shape=[5], dtype='int32')
case('zerosLike', 'zerosLike', [R(2, 3, grad=False)])
case('zerosLike/int64', 'zerosLike', [I(4)])
case('onesLike', 'onesLike', [R(2, 3, grad=False)])
case('onesLike/dtype', 'onesLike', [R(3, grad=False)], dtype='int64')
case('emptyLike', 'emptyLike', [R(2, 3, grad=False)], shape_only=True)
case('fullLike', 'fullLike', [R(2, 2, grad=False)], value=-1.5)
case('fullLike/int64', 'fullLike', [I(3)], value=4)
case('randLike', 'randLike', [R(2, 3, grad=False)], seed=11)
case('randnLike', 'randnLike', [R(4, 5, grad=False)], seed=11)
case('randintLike', 'randintLike', [I(2, 3)], seed=11, low=3, high=9)
case('randintLike/float', 'randintLike', [R(6, grad=False)], seed=12, low=0, high=4)

# pointwise
case('add/same shape', 'add', [R(2, 3), R(2, 3)])
case('add/broadcast', 'add', [R(2, 1, 3), R(4, 1)])
case('add/alpha', 'add', [R(3, 4), R(4)], alpha=2.5)
case('add/scalar', 'add', [R(2, 3)], other=1.5)
case('add/scalar alpha', 'add', [R(3)], other=2.0, alpha=-0.5)
case('add/int64', 'add', [I(5), I(5)])
case('add/int64 + float scalar', 'add', [I(4)], other=0.5)
case('add/int64 + float tensor', 'add', [I(3), R(3, grad=False)])
case('add/0-d', 'add', [R(), R(2, 2)])
case('sub/broadcast', 'sub', [R(3, 1), R(1, 4)])
case('sub/alpha', 'sub', [R(2, 3), R(2, 3)], alpha=3.0)
case('sub/scalar', 'sub', [R(5)], other=-2.0)
case('mul/broadcast', 'mul', [R(2, 3, 4), R(3, 1)])
case('mul/scalar', 'mul', [R(3, 2)], other=-1.75)
case('mul/bool * float', 'mul', [B(4), R(4, grad=False)])
case('div/tensor', 'div', [R(2, 3), P(2, 3)])
case('div/broadcast', 'div', [R(3, 4), P(4)])
case('div/scalar', 'div', [R(6)], other=4.0)
case('div/int64 true', 'div', [I(6, low=-20, high=20), I(6, low=1, high=5)])
case('div/trunc', 'div', [R(8, scale=5), P(8)], roundingMode='trunc')
case('div/floor', 'div', [R(8, scale=5), P(8)], roundingMode='floor')
case('div/floor scalar', 'div', [R(8, scale=5)], other=1.5, roundingMode='floor')
case('div/trunc int64', 'div', [V([7, -7, 9, -9, 0], 'int64'), V([2, 2, -4, -4, 3], 'int64')], roundingMode='trunc')
case('div/floor int64', 'div', [V([7, -7, 9, -9, 0], 'int64'), V([2, 2, -4, -4, 3], 'int64')], roundingMode='floor')
case('div/floor int64 scalar', 'div', [V([7, -7, 9, -9, 0], 'int64')], other=2, roundingMode='floor')
case('neg', 'neg', [R(2, 3)])
case('neg/int64', 'neg', [I(4, low=-5, high=5)])
case('pow/scalar', 'pow', [P(2, 3)], other=2.5)
case('pow/integer scalar', 'pow', [R(5)], other=3.0)
case('pow/negative scalar', 'pow', [P(4)], other=-1.5)
case('pow/tensor', 'pow', [P(3, 4), R(4)])
case('pow/int64', 'pow', [I(5, low=-3, high=4)], other=2)
case('exp', 'exp', [R(3, 4)])
case('log', 'log', [P(3, 4)])
case('log/special', 'log', [V([0.0, -1.0, 1.0, float('inf')])], grad=False)
case('sqrt', 'sqrt', [P(2, 5)])
case('sqrt/negative', 'sqrt', [V([-1.0, 4.0, 0.0])], grad=False)
case('abs', 'abs', [R(3, 4)])
case('abs/int64', 'abs', [I(6, low=-9, high=9)])
case('clamp/min max', 'clamp', [R(4, 5)], min=-0.5, max=0.7)
case('clamp/min', 'clamp', [R(10)], min=0.1)
case('clamp/max', 'clamp', [R(10)], max=-0.2)
case('clamp/tensor bounds', 'clamp', [R(3, 4), R(4, scale=0.3, grad=False), U(3, 1, lo=0.5, hi=1.0, grad=False)], min=ref(1), max=ref(2))
case('clamp/int64', 'clamp', [I(8, low=-10, high=10)], min=-3, max=4)
case('sigmoid', 'sigmoid', [R(3, 4, scale=3)])
case('F.sigmoid', 'F.sigmoid', [R(6)])
case('tanh', 'tanh', [R(3, 4, scale=2)])
case('F.tanh', 'F.tanh', [R(6)])
case('relu', 'relu', [R(4, 5)])
case('F.relu', 'F.relu', [R(3, 3)])
case('relu/int64', 'relu', [I(6, low=-5, high=5)])
case('leakyRelu/default slope', 'leakyRelu', [R(4, 5)])
case('leakyRelu/slope 0.2', 'leakyRelu', [R(4, 5)], negativeSlope=0.2)
case('softmax/dim 1', 'softmax', [R(3, 5)], dim=1)
case('softmax/dim 0', 'softmax', [R(3, 5)], dim=0)
case('softmax/dim -1 3d', 'softmax', [R(2, 3, 4, scale=3)], dim=-1)
case('softmax/dim -2', 'softmax', [R(2, 3, 4)], dim=-2)
case('softmax/dtype float64', 'softmax', [R(3, 4)], dim=1, dtype='float64')
case('F.softmax', 'F.softmax', [R(2, 4)], dim=1)
case('logSoftmax/dim 1', 'logSoftmax', [R(3, 5, scale=3)], dim=1)
case('logSoftmax/dim -1', 'logSoftmax', [R(2, 3, 4)], dim=-1)
case('logSoftmax/dim 0', 'logSoftmax', [R(4, 3)], dim=0)
case('logSoftmax/dtype float64', 'logSoftmax', [R(3, 4)], dim=-1, dtype='float64')
case('F.logSoftmax', 'F.logSoftmax', [R(2, 4, 3)], dim=1)
case('matmul/1d 1d', 'matmul', [R(5), R(5)])
case('matmul/2d 1d', 'matmul', [R(3, 5), R(5)])
case('matmul/1d 2d', 'matmul', [R(5), R(5, 4)])
case('matmul/2d 2d', 'matmul', [R(3, 5), R(5, 4)])
case('matmul/batched', 'matmul', [R(2, 3, 5), R(2, 5, 4)])
case('matmul/batched broadcast', 'matmul', [R(2, 1, 3, 4), R(3, 4, 2)])
case('matmul/3d 2d', 'matmul', [R(2, 3, 4), R(4, 2)])
case('matmul/1d 3d', 'matmul', [R(4), R(2, 4, 3)])
case('Tensor.matmul', 'Tensor.matmul', [R(3, 4), R(4, 2)])

# reductions
case('sum/all', 'sum', [R(3, 4)])
case('sum/dim 0', 'sum', [R(3, 4)], dim=0)
case('sum/dim -1 keepdim', 'sum', [R(2, 3, 4)], dim=-1, keepdim=True)
case('sum/dims', 'sum', [R(2, 3, 4)], dim=[0, 2])
case('sum/dims keepdim negative', 'sum', [R(2, 3, 4)], dim=[-1, -3], keepdim=True)
case('sum/dtype float64', 'sum', [R(3, 4)], dim=1, dtype='float64')
case('sum/int64', 'sum', [I(3, 4)])
case('sum/bool', 'sum', [B(10)])
case('sum/int32 promotes', 'sum', [I(3, 4, dtype='int32')], dim=1)
case('mean/all', 'mean', [R(3, 4)])
case('mean/dim 1', 'mean', [R(3, 4)], dim=1)
case('mean/dim -2 keepdim', 'mean', [R(2, 3, 4)], dim=-2, keepdim=True)
case('mean/dims', 'mean', [R(2, 3, 4)], dim=[1, 2])
case('mean/dtype float64', 'mean', [R(5)], dtype='float64')
case('max/all', 'max', [R(3, 4)])
case('max/dim 1', 'max', [R(3, 4)], dim=1)
case('max/dim -1 keepdim', 'max', [R(2, 3, 4)], dim=-1, keepdim=True)
case('max/dim 0 int64', 'max', [I(4, 3, high=100)], dim=0)
case('min/all', 'min', [R(3, 4)])
case('min/dim 0', 'min', [R(3, 4)], dim=0)
case('min/dim -2 keepdim', 'min', [R(2, 3, 4)], dim=-2, keepdim=True)
case('argmax/all', 'argmax', [R(3, 4)])
case('argmax/dim 1', 'argmax', [R(3, 4)], dim=1)
case('argmax/dim -1 keepdim', 'argmax', [R(2, 3, 4)], dim=-1, keepdim=True)
case('argmax/ties first', 'argmax', [V([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])], dim=1)
case('argmin/all', 'argmin', [R(3, 4)])
case('argmin/dim 0', 'argmin', [R(3, 4)], dim=0)
case('argmin/dim -2 keepdim', 'argmin', [R(2, 3, 4)], dim=-2, keepdim=True)
case('topk/default', 'topk', [R(3, 6)], k=3)
case('topk/dim 0', 'topk', [R(5, 4)], k=2, dim=0)
case('topk/smallest', 'topk', [R(3, 6)], k=2, largest=False)
case('topk/dim -2 3d', 'topk', [R(2, 5, 3)], k=4, dim=-2)
case('topk/k 0', 'topk', [R(4)], k=0, grad=False)
case('sort/default', 'sort', [R(3, 5)])
case('sort/dim 0', 'sort', [R(4, 3)], dim=0)
case('sort/descending', 'sort', [R(3, 5)], descending=True)
case('sort/stable ties', 'sort', [V([3.0, 1.0, 2.0, 1.0, 3.0, 2.0, 1.0, 0.5])], stable=True)
case('sort/stable ties descending', 'sort', [V([3, 1, 2, 1, 3, 2, 1, 0], 'int64')], stable=True, descending=True)
case('sort/dim -2 descending', 'sort', [R(2, 4, 3)], dim=-2, descending=True)
case('cumsum/dim 0', 'cumsum', [R(4, 3)], dim=0)
case('cumsum/dim -1', 'cumsum', [R(2, 3, 5)], dim=-1)
case('cumsum/int64', 'cumsum', [I(6)], dim=0)
case('cumsum/bool', 'cumsum', [B(6)], dim=0)
case('cumsum/dtype float64', 'cumsum', [R(5)], dim=0, dtype='float64')

# comparisons and logic (integer-valued floats so equal elements occur)
for name in ('eq', 'ne', 'lt', 'le', 'gt', 'ge'):
    case(f'{name}/tensor', name, [I(3, 4, low=0, high=3, dtype='float32'), I(3, 4, low=0, high=3, dtype='float32')])
    case(f'{name}/broadcast', name, [I(2, 1, 4, low=0, high=3, dtype='float32'), I(3, 1, low=0, high=3, dtype='float32')])
    case(f'{name}/scalar', name, [I(6, low=0, high=3, dtype='float32')], other=1.0)
    case(f'{name}/int64', name, [I(8, low=0, high=3), I(8, low=0, high=3)])
case('eq/int64 vs float', 'eq', [V([1, 2, 3], 'int64'), V([1.0, 2.5, 3.0])])
for name in ('logicalAnd', 'logicalOr', 'logicalXor'):
    case(f'{name}/bool', name, [B(3, 4), B(3, 4)])
    case(f'{name}/broadcast', name, [B(2, 1, 3), B(4, 1)])
    case(f'{name}/float', name, [V([0.0, 1.5, 0.0, -2.0]), V([0.0, 0.0, 3.0, 1.0])])
case('logicalNot/bool', 'logicalNot', [B(3, 4)])
case('logicalNot/float', 'logicalNot', [V([0.0, 1.5, -0.0, float('nan')])])
case('logicalNot/int64', 'logicalNot', [V([0, 3, -1], 'int64')])

case('where/tensors', 'where', [B(3, 4), R(3, 4), R(3, 4)], x=ref(1), y=ref(2))
case('where/broadcast', 'where', [B(3, 1), R(1, 4), R(3, 4)], x=ref(1), y=ref(2))
case('where/scalar other', 'where', [B(2, 3), R(2, 3)], x=ref(1), y=0.0)
case('where/scalar self', 'where', [B(2, 3), R(2, 3)], x=-1.5, y=ref(1))
case('where/scalars', 'where', [B(2, 3)], x=1.0, y=0.0, grad=False)
case('where/int64', 'where', [B(5), I(5), I(5)], x=ref(1), y=ref(2))
case('Tensor.where', 'Tensor.where', [R(3, 4), B(3, 4), R(3, 4)], other=ref(2))
case('Tensor.where/scalar', 'Tensor.where', [R(3, 4), B(3, 4)], other=2.0)
case('maskedFill/scalar', 'maskedFill', [R(3, 4), B(3, 4)], value=-7.5)
case('maskedFill/broadcast mask', 'maskedFill', [R(2, 3, 4), B(3, 1)], value=0.0)
case('maskedFill/0-d tensor', 'maskedFill', [R(3, 4), B(3, 4), V(2.5)], value=ref(2))
case('maskedFill/int64', 'maskedFill', [I(6), B(6)], value=-1)

# shape and indexing
case('reshape', 'reshape', [R(2, 3, 4)], shape=[4, 6])
case('reshape/infer', 'reshape', [R(2, 3, 4)], shape=[3, -1])
case('reshape/flat', 'reshape', [R(3, 4)], shape=[12])
case('reshape/to 0-d', 'reshape', [R(1, 1)], shape=[])
case('view', 'view', [R(2, 3, 4)], shape=[6, 4])
case('view/infer', 'view', [R(2, 3, 4)], shape=[-1, 2, 2])
case('permute', 'permute', [R(2, 3, 4)], dims=[2, 0, 1])
case('permute/negative', 'permute', [R(2, 3, 4)], dims=[-1, -3, -2])
case('transpose', 'transpose', [R(2, 3, 4)], dim0=0, dim1=2)
case('transpose/negative', 'transpose', [R(2, 3, 4)], dim0=-1, dim1=-2)
case('contiguous', 'contiguous', [R(3, 4)], dim0=0, dim1=1)
case('contiguous/3d', 'contiguous', [R(2, 3, 4)], dim0=-1, dim1=0)
case('squeeze/all', 'squeeze', [R(1, 3, 1, 4)])
case('squeeze/dim', 'squeeze', [R(1, 3, 1, 4)], dim=2)
case('squeeze/dim negative', 'squeeze', [R(1, 3, 1, 4)], dim=-4)
case('squeeze/dim not 1', 'squeeze', [R(1, 3, 1, 4)], dim=1)
case('unsqueeze/0', 'unsqueeze', [R(3, 4)], dim=0)
case('unsqueeze/-1', 'unsqueeze', [R(3, 4)], dim=-1)
case('unsqueeze/-2', 'unsqueeze', [R(3, 4)], dim=-2)
case('expand', 'expand', [R(3, 1)], shape=[3, 4])
case('expand/-1 and new dim', 'expand', [R(1, 4)], shape=[2, 3, -1])
case('repeat', 'repeat', [R(2, 3)], repeats=[2, 2])
case('repeat/more dims', 'repeat', [R(2, 3)], repeats=[3, 1, 2])
case('flip/one dim', 'flip', [R(3, 4)], dims=[0])
case('flip/dims negative', 'flip', [R(2, 3, 4)], dims=[-1, 0])
case('cat/dim 0', 'cat', [R(2, 3), R(4, 3)])
case('cat/dim 1 three', 'cat', [R(2, 3), R(2, 1), R(2, 2)], dim=1)
case('cat/dim -1', 'cat', [R(2, 2, 3), R(2, 2, 2)], dim=-1)
case('cat/int64', 'cat', [I(3), I(2)])
case('stack/dim 0', 'stack', [R(2, 3), R(2, 3), R(2, 3)])
case('stack/dim 1', 'stack', [R(2, 3), R(2, 3)], dim=1)
case('stack/dim -1', 'stack', [R(2, 3), R(2, 3)], dim=-1)
case('split/size', 'split', [R(5, 3)], splitSize=2)
case('split/size dim 1', 'split', [R(3, 7)], splitSize=3, dim=1)
case('split/sizes', 'split', [R(6, 3)], splitSize=[1, 2, 3])
case('split/sizes dim -1', 'split', [R(2, 6)], splitSize=[4, 2], dim=-1)
case('chunk/even', 'chunk', [R(6, 2)], chunks=3)
case('chunk/uneven', 'chunk', [R(5, 2)], chunks=3)
case('chunk/more than size', 'chunk', [R(2, 3)], chunks=4, dim=0)
case('chunk/dim -1', 'chunk', [R(2, 7)], chunks=2, dim=-1)
case('narrow', 'narrow', [R(4, 5)], dim=1, start=1, length=3)
case('narrow/dim 0', 'narrow', [R(4, 5)], dim=0, start=2, length=2)
case('narrow/negative dim', 'narrow', [R(2, 3, 4)], dim=-1, start=0, length=2)
case('slice/start end', 'slice', [R(6, 3)], dim=0, start=1, end=4)
case('slice/step', 'slice', [R(3, 8)], dim=1, start=0, end=None, step=3)
case('slice/negative start', 'slice', [R(3, 8)], dim=-1, start=-3)
case('slice/negative end', 'slice', [R(7, 2)], dim=0, start=1, end=-2, step=2)
case('slice/end past size', 'slice', [R(4, 2)], dim=0, start=2, end=100)
case('indexSelect', 'indexSelect', [R(5, 3), V([4, 0, 2, 2], 'int64')], dim=0)
case('indexSelect/dim -1', 'indexSelect', [R(2, 3, 4), V([3, 1], 'int64')], dim=-1)
case('gather/dim 1', 'gather', [R(3, 4), I(3, 5, high=4)], dim=1)
case('gather/dim 0', 'gather', [R(3, 4), I(2, 4, high=3)], dim=0)
case('gather/dim -1 3d', 'gather', [R(2, 3, 4), I(2, 3, 2, high=4)], dim=-1)
case('scatter/src', 'scatter', [R(3, 5), V([[0, 1, 2, 3], [4, 0, 1, 2]], 'int64'), R(2, 4)], dim=1)
case('scatter/src dim 0', 'scatter', [R(3, 4), V([[2, 0, 1, 2], [1, 2, 0, 0]], 'int64'), R(2, 4)], dim=0)
case('scatter/value', 'scatter', [R(3, 5), V([[0, 3], [4, 1], [2, 2]], 'int64')], dim=1, value=9.5)
case('scatter/reduce add', 'scatter', [R(5), V([0, 1, 0, 4, 1], 'int64'), R(5)], dim=0, reduce='add', grad=False)
case('scatter/reduce multiply', 'scatter', [R(5), V([0, 1, 0, 4, 1], 'int64'), R(5)], dim=0, reduce='multiply', grad=False)
case('scatterAdd', 'scatterAdd', [R(3, 5), I(3, 4, high=5), R(3, 4)], dim=1)
case('scatterAdd/dim 0 duplicates', 'scatterAdd', [R(3, 2), V([[0, 2], [0, 2], [1, 0], [2, 2]], 'int64'), R(4, 2)], dim=0)
case('scatterAdd/dim -1', 'scatterAdd', [R(2, 4), V([[3, 3, 0], [1, 0, 1]], 'int64'), R(2, 3)], dim=-1)
case('oneHot', 'oneHot', [V([0, 2, 1, 3, 2], 'int64')], numClasses=5)
case('oneHot/infer', 'oneHot', [V([[0, 2], [1, 4]], 'int64')])
case('pad/constant last dim', 'pad', [R(2, 3)], padding=[1, 2])
case('pad/constant value', 'pad', [R(1, 2, 3, 3)], padding=[1, 1, 2, 0], mode='constant', value=-1.5)
case('pad/constant negative', 'pad', [R(2, 5)], padding=[-1, 2])
case('pad/constant 3 dims', 'pad', [R(2, 2, 2)], padding=[1, 0, 0, 1, 1, 1])
case('pad/reflect 1d', 'pad', [R(1, 2, 5)], padding=[2, 1], mode='reflect')
case('pad/reflect 2d', 'pad', [R(1, 2, 4, 4)], padding=[1, 2, 3, 0], mode='reflect')
case('pad/replicate 1d', 'pad', [R(2, 2, 4)], padding=[3, 1], mode='replicate')
case('pad/replicate 2d', 'pad', [R(1, 2, 3, 3)], padding=[2, 1, 1, 2], mode='replicate')
case('pad/int64 constant', 'pad', [I(2, 3)], padding=[1, 1], value=5)

# nn.functional
case('conv2d/basic', 'conv2d', [R(2, 3, 6, 6), R(4, 3, 3, 3)])
case('conv2d/bias', 'conv2d', [R(1, 3, 5, 5), R(2, 3, 3, 3), R(2)], bias=ref(2))
case('conv2d/stride padding', 'conv2d', [R(2, 2, 7, 7), R(3, 2, 3, 3), R(3)], bias=ref(2), stride=2, padding=1)
case('conv2d/pairs', 'conv2d', [R(1, 2, 7, 8), R(2, 2, 3, 2)], stride=[2, 1], padding=[1, 0], dilation=[1, 2])
case('conv2d/dilation', 'conv2d', [R(1, 2, 8, 8), R(2, 2, 3, 3)], dilation=2, padding=2)
case('conv2d/groups', 'conv2d', [R(2, 4, 5, 5), R(6, 2, 3, 3), R(6)], bias=ref(2), groups=2, padding=1)
case('conv2d/depthwise', 'conv2d', [R(1, 3, 6, 6), R(3, 1, 3, 3)], groups=3, stride=2)
case('conv2d/1x1', 'conv2d', [R(2, 4, 3, 3), R(5, 4, 1, 1)])
case('convTranspose2d/basic', 'convTranspose2d', [R(1, 3, 4, 4), R(3, 2, 3, 3)])
case('convTranspose2d/stride padding bias', 'convTranspose2d', [R(2, 2, 3, 3), R(2, 3, 3, 3), R(3)], bias=ref(2), stride=2, padding=1)
case('convTranspose2d/output padding', 'convTranspose2d', [R(1, 2, 3, 4), R(2, 2, 3, 3)], stride=2, padding=1, outputPadding=1)
case('convTranspose2d/pairs', 'convTranspose2d', [R(1, 2, 3, 3), R(2, 1, 2, 3)], stride=[2, 3], padding=[0, 1], outputPadding=[1, 2])
case('convTranspose2d/groups', 'convTranspose2d', [R(1, 4, 3, 3), R(4, 3, 3, 3), R(6)], bias=ref(2), groups=2, stride=2, outputPadding=1)
case('convTranspose2d/dilation', 'convTranspose2d', [R(1, 2, 4, 4), R(2, 2, 3, 3)], dilation=2, padding=1)
case('maxPool2d/2x2', 'maxPool2d', [R(2, 3, 6, 6)], kernelSize=2)
case('maxPool2d/3x3 stride 2 padding 1', 'maxPool2d', [R(1, 2, 7, 7)], kernelSize=3, stride=2, padding=1)
case('maxPool2d/ceil mode', 'maxPool2d', [R(1, 2, 7, 7)], kernelSize=2, stride=2, ceilMode=True)
case('maxPool2d/floor mode odd', 'maxPool2d', [R(1, 2, 7, 7)], kernelSize=2, stride=2, ceilMode=False)
case('maxPool2d/pairs dilation', 'maxPool2d', [R(1, 2, 8, 9)], kernelSize=[2, 3], stride=[1, 2], padding=[1, 0], dilation=[2, 1])
case('maxPool2d/3d input', 'maxPool2d', [R(2, 5, 5)], kernelSize=2)
case('maxPool2d/with indices', 'maxPool2dWithIndices', [R(1, 2, 6, 6)], kernelSize=3, stride=2, padding=1)
case('avgPool2d/2x2', 'avgPool2d', [R(2, 3, 6, 6)], kernelSize=2)
case('avgPool2d/padding count include pad', 'avgPool2d', [R(1, 2, 5, 5)], kernelSize=3, stride=2, padding=1)
case('avgPool2d/padding exclude pad', 'avgPool2d', [R(1, 2, 5, 5)], kernelSize=3, stride=2, padding=1, countIncludePad=False)
case('avgPool2d/ceil mode', 'avgPool2d', [R(1, 2, 7, 7)], kernelSize=2, stride=2, ceilMode=True)
case('avgPool2d/ceil exclude pad', 'avgPool2d', [R(1, 1, 6, 6)], kernelSize=3, stride=2, padding=1, ceilMode=True, countIncludePad=False)
case('avgPool2d/divisor override', 'avgPool2d', [R(1, 2, 4, 4)], kernelSize=2, divisorOverride=3)
case('avgPool2d/pairs', 'avgPool2d', [R(1, 2, 6, 7)], kernelSize=[2, 3], stride=[2, 1])
case('adaptiveAvgPool2d/1', 'adaptiveAvgPool2d', [R(2, 3, 5, 5)], outputSize=1)
case('adaptiveAvgPool2d/divisible', 'adaptiveAvgPool2d', [R(1, 2, 6, 6)], outputSize=3)
case('adaptiveAvgPool2d/non-divisible', 'adaptiveAvgPool2d', [R(1, 2, 7, 5)], outputSize=[3, 2])
case('adaptiveAvgPool2d/upsampling', 'adaptiveAvgPool2d', [R(1, 1, 2, 3)], outputSize=[4, 5])
case('interpolate/nearest size', 'interpolate', [R(1, 2, 3, 4)], size=[6, 5])
case('interpolate/nearest scale 2', 'interpolate', [R(1, 2, 3, 3)], scaleFactor=2.0)
case('interpolate/nearest scale 1.5', 'interpolate', [R(1, 2, 4, 4)], scaleFactor=1.5, mode='nearest')
case('interpolate/nearest downscale', 'interpolate', [R(1, 1, 6, 5)], size=[3, 2])
case('interpolate/nearest scale pair', 'interpolate', [R(1, 1, 3, 4)], scaleFactor=[2.0, 0.5])
case('interpolate/bilinear size', 'interpolate', [R(1, 2, 3, 4)], size=[5, 7], mode='bilinear')
case('interpolate/bilinear size align corners', 'interpolate', [R(1, 2, 3, 4)], size=[5, 7], mode='bilinear', alignCorners=True)
case('interpolate/bilinear size align corners false', 'interpolate', [R(1, 2, 3, 4)], size=[5, 7], mode='bilinear', alignCorners=False)
case('interpolate/bilinear scale 2', 'interpolate', [R(2, 1, 3, 3)], scaleFactor=2.0, mode='bilinear')
case('interpolate/bilinear scale 2 align corners', 'interpolate', [R(2, 1, 3, 3)], scaleFactor=2.0, mode='bilinear', alignCorners=True)
case('interpolate/bilinear scale 1.7', 'interpolate', [R(1, 2, 4, 3)], scaleFactor=1.7, mode='bilinear', alignCorners=False)
case('interpolate/bilinear downscale', 'interpolate', [R(1, 1, 7, 6)], size=[3, 4], mode='bilinear')
case('interpolate/bilinear downscale align corners', 'interpolate', [R(1, 1, 7, 6)], scaleFactor=0.5, mode='bilinear', alignCorners=True)
case('batchNorm/training running stats', 'batchNorm', [R(4, 3, 2, 2), R(3, scale=0.1, grad=False), P(3, grad=False), P(3), R(3)],
     runningMean=ref(1), runningVar=ref(2), weight=ref(3), bias=ref(4), training=True)
case('batchNorm/training momentum eps', 'batchNorm', [R(3, 2, 3, 3), R(2, grad=False), P(2, grad=False)],
     runningMean=ref(1), runningVar=ref(2), training=True, momentum=0.3, eps=1e-3)
case('batchNorm/training 2d input', 'batchNorm', [R(6, 4), R(4, grad=False), P(4, grad=False), P(4), R(4)],
     runningMean=ref(1), runningVar=ref(2), weight=ref(3), bias=ref(4), training=True)
case('batchNorm/training no running stats', 'batchNorm', [R(4, 3, 2, 2)], runningMean=None, runningVar=None, training=True)
case('batchNorm/eval', 'batchNorm', [R(2, 3, 3, 3), R(3, grad=False), P(3, grad=False), P(3), R(3)],
     runningMean=ref(1), runningVar=ref(2), weight=ref(3), bias=ref(4))
case('batchNorm/eval explicit', 'batchNorm', [R(2, 3, 2, 2), R(3, grad=False), P(3, grad=False)],
     runningMean=ref(1), runningVar=ref(2), training=False, eps=0.01)
case('dropout/p 0', 'dropout', [R(3, 4)], p=0.0)
case('dropout/eval', 'dropout', [R(3, 4)], p=0.5, training=False)
case('dropout/default p seeded', 'dropout', [R(4, 5)], seed=0)
case('dropout/p 0.3 seeded', 'dropout', [R(50)], p=0.3, seed=42)
case('dropout/p 1', 'dropout', [R(2, 3)], p=1.0)
case('dropout2d/p 0', 'dropout2d', [R(2, 3, 2, 2)], p=0.0)
case('dropout2d/eval', 'dropout2d', [R(2, 3, 2, 2)], p=0.5, training=False)
case('dropout2d/default p seeded', 'dropout2d', [R(2, 4, 2, 2)], seed=0)
case('dropout2d/p 0.25 seeded', 'dropout2d', [R(3, 6, 2, 1)], p=0.25, seed=5)
case('crossEntropy/mean', 'crossEntropy', [R(5, 4), I(5, high=4)])
case('crossEntropy/sum', 'crossEntropy', [R(5, 4), I(5, high=4)], reduction='sum')
case('crossEntropy/none', 'crossEntropy', [R(5, 4), I(5, high=4)], reduction='none')
case('crossEntropy/weight', 'crossEntropy', [R(6, 3), I(6, high=3), P(3, grad=False)], weight=ref(2))
case('crossEntropy/weight none', 'crossEntropy', [R(6, 3), I(6, high=3), P(3, grad=False)], weight=ref(2), reduction='none')
case('crossEntropy/ignore index', 'crossEntropy', [R(6, 4), V([0, 3, 255, 1, 255, 2], 'int64')], ignoreIndex=255)
case('crossEntropy/ignore index default', 'crossEntropy', [R(4, 3), V([0, -100, 2, 1], 'int64')])
case('crossEntropy/ignore index weight', 'crossEntropy', [R(6, 4), V([0, 3, 1, 1, 2, 3], 'int64'), P(4, grad=False)], weight=ref(2), ignoreIndex=1)
case('crossEntropy/label smoothing', 'crossEntropy', [R(5, 4), I(5, high=4)], labelSmoothing=0.1)
case('crossEntropy/label smoothing sum', 'crossEntropy', [R(5, 4), I(5, high=4)], labelSmoothing=0.2, reduction='sum')
case('crossEntropy/label smoothing weight ignore', 'crossEntropy', [R(6, 4), V([0, 3, 1, 2, 1, 3], 'int64'), P(4, grad=False)],
     weight=ref(2), ignoreIndex=3, labelSmoothing=0.15)
case('crossEntropy/spatial', 'crossEntropy', [R(2, 3, 4, 4), I(2, 4, 4, high=3)])
case('crossEntropy/spatial ignore none', 'crossEntropy', [R(2, 3, 3, 3), I(2, 3, 3, high=4)], ignoreIndex=3, reduction='none')
case('crossEntropy/spatial weight smoothing', 'crossEntropy', [R(2, 4, 3, 3), I(2, 3, 3, high=4), P(4, grad=False)],
     weight=ref(2), labelSmoothing=0.05)
case('crossEntropy/probabilities', 'crossEntropy', [R(4, 5), U(4, 5, grad=False)])
case('crossEntropy/probabilities none smoothing', 'crossEntropy', [R(4, 5), U(4, 5, grad=False)], reduction='none', labelSmoothing=0.1)
case('nllLoss/mean', 'nllLoss', [R(5, 4), I(5, high=4)])
case('nllLoss/sum', 'nllLoss', [R(5, 4), I(5, high=4)], reduction='sum')
case('nllLoss/none', 'nllLoss', [R(5, 4), I(5, high=4)], reduction='none')
case('nllLoss/weight', 'nllLoss', [R(6, 3), I(6, high=3), P(3, grad=False)], weight=ref(2))
case('nllLoss/ignore index', 'nllLoss', [R(5, 4), V([1, 0, 2, 2, 3], 'int64')], ignoreIndex=2)
case('nllLoss/spatial', 'nllLoss', [R(2, 3, 3, 4), I(2, 3, 4, high=3)])
case('nllLoss/spatial weight none', 'nllLoss', [R(2, 3, 2, 2), I(2, 2, 2, high=3), P(3, grad=False)], weight=ref(2), reduction='none')
case('bceWithLogits/mean', 'binaryCrossEntropyWithLogits', [R(4, 3, scale=3), U(4, 3, grad=False)])
case('bceWithLogits/sum', 'binaryCrossEntropyWithLogits', [R(4, 3), I(4, 3, high=2, dtype='float32')], reduction='sum')
case('bceWithLogits/none', 'binaryCrossEntropyWithLogits', [R(4, 3), U(4, 3, grad=False)], reduction='none')
case('bceWithLogits/weight', 'binaryCrossEntropyWithLogits', [R(4, 3), U(4, 3, grad=False), P(3, grad=False)], weight=ref(2))
case('bceWithLogits/pos weight', 'binaryCrossEntropyWithLogits', [R(4, 3), U(4, 3, grad=False), P(3, grad=False)], posWeight=ref(2))
case('bceWithLogits/weight pos weight none', 'binaryCrossEntropyWithLogits',
     [R(2, 3, 4), U(2, 3, 4, grad=False), P(3, 1, grad=False), P(4, grad=False)], weight=ref(2), posWeight=ref(3), reduction='none')
case('bceWithLogits/large logits', 'binaryCrossEntropyWithLogits', [V([-100.0, -20.0, 0.0, 20.0, 100.0]), V([0.0, 1.0, 0.5, 0.0, 1.0])])
case('mseLoss/mean', 'mseLoss', [R(3, 4), R(3, 4)])
case('mseLoss/sum', 'mseLoss', [R(3, 4), R(3, 4)], reduction='sum')
case('mseLoss/none', 'mseLoss', [R(3, 4), R(3, 4)], reduction='none')
case('l1Loss/mean', 'l1Loss', [R(3, 4), R(3, 4)])
case('l1Loss/sum', 'l1Loss', [R(3, 4), R(3, 4)], reduction='sum')
case('l1Loss/none', 'l1Loss', [R(2, 5), R(2, 5)], reduction='none')

# in-place
case('add_/tensor', 'add_', [R(3, 4), R(3, 4)])
case('add_/broadcast alpha', 'add_', [R(3, 4), R(4)], alpha=-0.5)
case('add_/scalar', 'add_', [R(5)], other=2.25)
case('add_/int64', 'add_', [I(5), I(5)], alpha=3)
case('mul_/tensor', 'mul_', [R(3, 4), R(3, 1)])
case('mul_/scalar', 'mul_', [R(6)], other=-3.0)
case('addcmul_', 'addcmul_', [R(3, 4), R(3, 4), R(3, 4)])
case('addcmul_/value broadcast', 'addcmul_', [R(3, 4), R(4), R(3, 1)], value=0.3)
case('addcdiv_', 'addcdiv_', [R(3, 4), R(3, 4), P(3, 4)])
case('addcdiv_/value', 'addcdiv_', [R(3, 4), R(3, 4), P(4)], value=-0.01)
case('sqrt_', 'sqrt_', [P(3, 4)])
case('zero_', 'zero_', [R(3, 4)])
case('zero_/int64', 'zero_', [I(5)])
case('fill_', 'fill_', [R(2, 3)], value=1.25)
case('fill_/int64', 'fill_', [I(4)], value=-3)
case('fill_/bool', 'fill_', [B(4)], value=True)
case('copy_', 'copy_', [R(3, 4), R(3, 4)])
case('copy_/broadcast', 'copy_', [R(3, 4), R(4)])
case('copy_/int64 into float', 'copy_', [R(2, 3, grad=False), I(2, 3)])
case('copy_/float into int64', 'copy_', [I(4), V([1.7, -2.7, 3.2, 0.5])])
case('clamp_/min max', 'clamp_', [R(3, 4)], min=-0.3, max=0.4)
case('clamp_/min', 'clamp_', [R(8)], min=0.0)
case('clamp_/max', 'clamp_', [R(8)], max=0.25)
case('lerp_/scalar', 'lerp_', [R(3, 4), R(3, 4)], weight=0.3)
case('lerp_/scalar large', 'lerp_', [R(3, 4), R(3, 4)], weight=0.9)
case('lerp_/tensor', 'lerp_', [R(3, 4), R(3, 4), U(3, 4)])
case('lerp_/tensor broadcast', 'lerp_', [R(3, 4), R(4), U(3, 1)])
case('maximum_', 'maximum_', [R(3, 4), R(3, 4)])
case('maximum_/broadcast', 'maximum_', [R(3, 4), R(4)])
case('maximum_/nan', 'maximum_', [V([1.0, float('nan'), 2.0]), V([float('nan'), 0.0, 3.0])])

# beyond the required list
case('eye', 'eye', n=3)
case('eye/int64', 'eye', n=2, dtype='int64')
case('randperm/seed 0', 'randperm', seed=0, n=10)
case('randperm/seed 5 large', 'randperm', seed=5, n=40)
case('uniform_/seeded', 'uniform_', [R(3, 4)], seed=2, **{'from': -2.0, 'to': 3.0})
case('uniform_/default', 'uniform_', [R(10)], seed=3)
case('normal_/seeded', 'normal_', [R(20)], seed=2, mean=1.0, std=0.5)
case('normal_/default', 'normal_', [R(4, 5)], seed=4)
case('to/float64', 'to', [R(2, 3)], dtype='float64')
case('to/int64 truncates', 'to', [V([1.7, -1.7, 2.5, -0.2])], dtype='int64')
case('to/bool', 'to', [V([0.0, 1.5, -0.0, 2.0])], dtype='bool')
case('to/float32 from int64', 'to', [I(4)], dtype='float32')
case('detach', 'detach', [R(2, 3)])
case('rsqrt', 'rsqrt', [P(3, 4)])
case('sign', 'sign', [V([-2.0, 0.0, 3.5, -0.0])])
case('floor', 'floor', [R(6, scale=3)])
case('ceil', 'ceil', [R(6, scale=3)])
case('round/half to even', 'round', [V([0.5, 1.5, 2.5, -0.5, -1.5, 0.49, 1.51])])
case('square', 'square', [R(3, 4)])
case('reciprocal', 'reciprocal', [P(3, 4)])
case('maximum/broadcast', 'maximum', [R(3, 4), R(4)])
case('minimum/broadcast', 'minimum', [R(3, 1), R(4)])
case('lerp/scalar', 'lerp', [R(3, 4), R(3, 4)], weight=0.25)
case('lerp/tensor', 'lerp', [R(3, 4), R(3, 4), U(3, 4)])
case('var/all', 'var', [R(3, 4)])
case('var/dim keepdim', 'var', [R(3, 4)], dim=1, keepdim=True)
case('var/biased', 'var', [R(3, 4)], dim=0, unbiased=False)
case('var/dims negative', 'var', [R(2, 3, 4)], dim=[-1, 0])
case('std/all', 'std', [R(3, 4)])
case('std/dim', 'std', [R(3, 4)], dim=-1)
case('std/biased keepdim', 'std', [R(3, 4)], dim=0, keepdim=True, unbiased=False)
case('argsort', 'argsort', [R(3, 5)])
case('argsort/dim 0 descending', 'argsort', [R(4, 3)], dim=0, descending=True)
case('all', 'all', [V([True, True, False], 'bool')])
case('all/float', 'all', [V([1.0, 2.0])])
case('any', 'any', [V([False, False, True], 'bool')])
case('any/empty', 'any', [V([], 'bool')])
case('isnan', 'isnan', [V([1.0, float('nan'), float('inf')])])
case('isfinite', 'isfinite', [V([1.0, float('nan'), float('inf'), -float('inf')])])
case('flatten', 'flatten', [R(2, 3, 4)])
case('flatten/dims', 'flatten', [R(2, 3, 4, 5)], startDim=1, endDim=2)
case('flatten/negative', 'flatten', [R(2, 3, 4)], startDim=-2)
case('select', 'select', [R(3, 4)], dim=0, index=1)
case('select/negative', 'select', [R(2, 3, 4)], dim=-1, index=-1)
case('T', 'T', [R(3, 4)])
case('expandAs', 'expandAs', [R(3, 1), R(2, 3, 4, grad=False)])
case('maskedSelect', 'maskedSelect', [R(3, 4), B(3, 4)])
case('maskedSelect/broadcast', 'maskedSelect', [R(3, 4), B(4)])
case('index/one dim', 'index', [R(5, 3), V([4, 0, 4], 'int64')], indices=[1])
case('index/two dims', 'index', [R(4, 5), V([0, 3, 1], 'int64'), V([4, 0, 2], 'int64')], indices=[1, 2])
case('index/skip dim', 'index', [R(3, 4), V([[3, 0], [1, 1]], 'int64')], indices=[None, 1])
case('index/bool mask', 'index', [R(3, 4), B(3)], indices=[1])
case('nonzero', 'nonzero', [V([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])])
case('unique', 'unique', [V([3, 1, 2, 1, 3, 5], 'int64')])
case('unique/float', 'unique', [V([0.5, -1.0, 0.5, 2.0])])
case('unique/values', 'unique.values', [V([3, 1, 2, 1, 3, 5], 'int64')])
case('groupNorm', 'groupNorm', [R(2, 4, 3, 3)], numGroups=2)
case('groupNorm/affine eps', 'groupNorm', [R(2, 6, 2, 2), P(6), R(6)], numGroups=3, weight=ref(1), bias=ref(2), eps=1e-3)
case('sub_', 'sub_', [R(3, 4), R(4)], alpha=2.0)
case('sub_/scalar', 'sub_', [R(5)], other=0.5)
case('div_', 'div_', [R(3, 4), P(3, 4)])
case('div_/scalar', 'div_', [R(5)], other=3.0)
case('neg_', 'neg_', [R(3, 4)])
case('relu_', 'relu_', [R(3, 4)])
case('maskedFill_', 'maskedFill_', [R(3, 4), B(3, 4)], value=-2.0)
case('scatter_/src', 'scatter_', [R(3, 5), V([[0, 1, 2, 3], [4, 0, 1, 2]], 'int64'), R(2, 4)], dim=1)
case('scatter_/value', 'scatter_', [R(3, 5), V([[0, 3], [4, 1], [2, 2]], 'int64')], dim=1, value=-4.0)
case('scatterAdd_', 'scatterAdd_', [R(3, 2), V([[0, 2], [0, 2], [1, 0], [2, 2]], 'int64'), R(4, 2)], dim=0)
case('indexPut_', 'indexPut_', [R(5, 3), V([4, 0], 'int64'), R(2, 3)], indices=[1], values=2)
case('indexPut_/accumulate duplicates', 'indexPut_', [R(4, 3), V([1, 1, 3], 'int64'), V([0, 0, 2], 'int64'), R(3)],
     indices=[1, 2], values=3, accumulate=True)

# reading and printing
case('tolist/float 2d', 'tolist', [R(2, 3)])
case('tolist/int64 3d', 'tolist', [I(2, 2, 2, low=-50, high=50)])
case('tolist/bool', 'tolist', [B(2, 3)])
case('tolist/0-d', 'tolist', [V(1.25)])
case('tolist/empty', 'tolist', [V([])])
case('item/float', 'item', [R()])
case('item/one element', 'item', [R(1, 1)])
case('item/int64', 'item', [V(-42, 'int64')])
case('item/bool', 'item', [V(True, 'bool')])
case('item/float64', 'item', [V(0.1, 'float64')])
case('str/float', 'str', [R(2, 3, grad=False)])
case('str/float 1d', 'str', [V([1.5, -2.25, 3.0, 0.125])])
case('str/float integers', 'str', [V([1.0, -2.0, 30.0])])
case('str/int64', 'str', [V([[1, -20, 300], [4, 5, 6]], 'int64')])
case('str/int32', 'str', [V([1, 2, 3], 'int32')])
case('str/bool', 'str', [V([[True, False], [False, True]], 'bool')])
case('str/sci small', 'str', [V([1e-5, 0.5, 2.0])])
case('str/sci large ratio', 'str', [V([0.01, 25.5, 1234.5])])
case('str/sci large', 'str', [V([1.5e9, -2.0, 3.0])])
case('str/sci integers', 'str', [V([1.0, 100000.0])])
case('str/nonfinite', 'str', [V([1.5, float('nan'), float('inf'), -float('inf')])])
case('str/zeros', 'str', [V([0.0, 0.0, -0.0])])
case('str/negative zero', 'str', [V([-0.0, 1.5, -2.25])])
case('str/negative zero sci', 'str', [V([-0.0, 1.5, 12345.0])])
case('str/round half even', 'str', [V([0.03125, -1.40625, 0.09375, 2.5])])
case('str/round half even sci', 'str', [V([1.03125, -2000.0, 0.5, 1.40625e-3])])
case('str/empty', 'str', [V([])])
case('str/empty 2d', 'str', [{'kind': 'randn', 'shape': [2, 0], 'dtype': 'float32', 'grad': False, 'scale': 1.0}])
case('str/empty int64', 'str', [I(0)])
case('str/empty bool 2d', 'str', [{'kind': 'bool', 'shape': [0, 3], 'dtype': 'bool', 'grad': False}])
case('str/empty float64', 'str', [V([], 'float64')])
case('str/0-d float', 'str', [V(3.5)])
case('str/0-d int64', 'str', [V(-7, 'int64')])
case('str/0-d bool', 'str', [V(False, 'bool')])
case('str/3d', 'str', [R(2, 2, 3, grad=False)])
case('str/wrapping', 'str', [R(30, grad=False)])
case('str/summarised 1d', 'str', [R(1200, grad=False)])
case('str/summarised 2d', 'str', [R(40, 30, grad=False)])
case('str/summarised int64', 'str', [I(1001, low=-1000, high=1000)])
case('str/summarised 3d', 'str', [R(11, 10, 10, grad=False)])
case('str/float64', 'str', [V([0.1, 0.25, -3.0], 'float64')])
case('str/float64 0-d', 'str', [V(2.0, 'float64')])
case('str/uint8', 'str', [V([0, 255, 7], 'uint8')])
case('str/requires grad', 'str', [V([1.0, 2.0], grad=True)])
case('str/requires grad float64', 'str', [V([[0.5, 1.5]], 'float64', grad=True)])
case('str/float16', 'str.to', [V([0.1, -2.5, 1000.0])], dtype='float16')
case('str/bfloat16', 'str.to', [V([0.1, -2.5, 3.0])], dtype='bfloat16')
case('str/int8', 'str.to', [V([-3, 7, 100], 'int64')], dtype='int8')
case('str/int16', 'str.to', [V([[-3, 7], [1000, 0]], 'int64')], dtype='int16')
case('str/grad fn', 'str.mul', [V([1.0, 2.5], grad=True), V([2.0, 2.0])])


# ---------------------------------------------------------------------------------------------
# Running


def resolve(value, inputs):
    if isinstance(value, dict) and set(value) == {'$input'}:
        return inputs[value['$input']]
    return value


def flatten_outputs(result):
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        out = []
        for r in result:
            out.extend(flatten_outputs(r))
        return out
    raise TypeError(f'unexpected output {type(result)}')


def run_case(c):
    g = torch.Generator().manual_seed(zlib.crc32(c['id'].encode()))
    differentiable = c['grad'] and c['op'] not in NO_GRAD_OPS
    inputs = []
    for spec in c['inputs']:
        t = make_input(spec, g)
        wants = spec['grad'] if spec['grad'] is not None else differentiable
        if wants and t.is_floating_point():
            t.requires_grad_(True)
        inputs.append(t)
    record = {
        'id': c['id'],
        'op': c['op'],
        'inputs': [dict(encode(t), **({'requiresGrad': True} if t.requires_grad else {})) for t in inputs],
        'kwargs': c['kwargs'],
    }
    kwargs = {k: resolve(v, inputs) for k, v in c['kwargs'].items()}
    result = OPS[c['op']](inputs, kwargs)
    if c['op'] in STR_OPS:
        record['output'] = {'kind': 'str', 'value': result}
        return record
    if c['op'] in JSON_OPS:
        record['output'] = {'kind': 'json', 'value': result}
        return record
    outs = flatten_outputs(result)
    layout = c['op'] in LAYOUT_OPS
    record['output'] = {'kind': 'tensors', 'tensors': [encode(o, c['shape_only'], layout) for o in outs]}
    if c['shape_only']:
        record['shapeOnly'] = True
    leaves = [t for t in inputs if t.requires_grad]
    graded = [o for o in outs if o.requires_grad and o.is_floating_point()]
    if differentiable and leaves and graded:
        weights = []
        loss = 0
        for o in outs:
            if o.requires_grad and o.is_floating_point():
                w = torch.randn(o.shape, generator=g, dtype=torch.float64).to(o.dtype)
                weights.append(encode(w))
                loss = loss + (o * w).sum()
            else:
                weights.append(None)
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        it = iter(grads)
        record['weights'] = weights
        record['grads'] = [(lambda gr: None if gr is None else encode(gr))(next(it)) if t.requires_grad else None for t in inputs]
    return record


def main():
    records = [run_case(c) for c in CASES]
    meta = {
        'generator': 'scripts/gen_parity_fixtures.py',
        'torch': torch.__version__,
        'cases': len(records),
        'ops': sorted({c['op'] for c in CASES}),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    body = ',\n'.join(json.dumps(r, separators=(',', ':'), allow_nan=False) for r in records)
    with open(OUT, 'w') as f:
        f.write('{"meta":' + json.dumps(meta, separators=(',', ':')) + ',\n"cases":[\n' + body + '\n]}\n')
    size = os.path.getsize(OUT)
    print(f'wrote {len(records)} cases over {len(meta["ops"])} ops to {os.path.relpath(OUT)} ({size / 1024:.0f} KiB)')


if __name__ == '__main__':
    main()
