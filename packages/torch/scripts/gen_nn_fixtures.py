#!/usr/bin/python3
"""Fixtures for the nn parity test: a small CNN (convs, BN, ReLU, max-pool, bilinear upsampling,
skip concatenation, dropout off) built after torch.manual_seed(0), then trained for 20 steps with
SGD (momentum, weight decay) and with Adam from the same initial weights and data.

Convolutions before BatchNorm have no bias, as usual: BN removes a constant, so such a bias has a
zero true gradient and Adam would turn its rounding noise into full-size steps (a test of noise,
not of parity).

Run with Debian's PyTorch:  /usr/bin/python3 scripts/gen_nn_fixtures.py
Writes test/fixtures/nn/small_cnn.json.
"""
import json
import os

import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'nn', 'small_cnn.json')


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.enc2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.drop = nn.Dropout2d(0.0)
        self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)
        self.dec = nn.Sequential(nn.Conv2d(24, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        d = self.up(self.drop(e2))
        d = self.dec(torch.cat([d, e1], 1))
        return self.head(d)


def tensor_json(t):
    t = t.detach().contiguous()
    return {'shape': list(t.shape), 'dtype': str(t.dtype).replace('torch.', ''), 'values': t.flatten().tolist()}


def state_json(model):
    return {k: tensor_json(v) for k, v in model.state_dict().items()}


def train(make_optimizer, initial, x, y):
    model = SmallCNN()
    model.load_state_dict(initial)
    model.train()
    opt = make_optimizer(model)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y, ignore_index=255)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {'losses': losses, 'final': state_json(model)}


sys.path.insert(0, HERE)
from safetensors_peer import serialize  # noqa: E402  (our pure-Python writer; no safetensors package here)

ROUNDTRIP = os.path.join(HERE, '..', 'test', 'fixtures', 'nn', 'small_cnn_from_pytorch.safetensors')


def forward_json(model, x):
    model.eval()
    with torch.no_grad():
        return tensor_json(model(x))


def main():
    torch.manual_seed(0)
    model = SmallCNN()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 16, 16, generator=g)
    y = torch.randint(0, 4, (2, 16, 16), generator=g)
    y[0, :3, :3] = 255
    model.eval()
    with torch.no_grad():
        eval_out = model(x)
    out = {
        'parameter_names': [n for n, _ in model.named_parameters()],
        'state_dict_keys': list(model.state_dict().keys()),
        'initial': state_json(model),
        'x': tensor_json(x),
        'y': tensor_json(y),
        'eval_output': tensor_json(eval_out),
        'sgd': train(lambda m: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4), initial, x, y),
        'adam': train(lambda m: torch.optim.Adam(m.parameters(), lr=1e-3), initial, x, y),
    }
    # PyTorch -> ours: weights after the SGD run, written by PyTorch, and their eval output.
    trained = SmallCNN()
    trained.load_state_dict({k: torch.tensor(v['values'], dtype=getattr(torch, v['dtype'])).reshape(v['shape']) for k, v in out['sgd']['final'].items()})
    with open(ROUNDTRIP, 'wb') as f:
        f.write(serialize({k: v.contiguous() for k, v in trained.state_dict().items()}))
    out['roundtrip_output'] = forward_json(trained, x)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(out, f)
    print('wrote', OUT, os.path.getsize(OUT), 'bytes')





def run_peer(weights_file, x_json):
    """Ours -> PyTorch: load a safetensors file written by @adaseg/torch and print the eval output."""
    from safetensors_peer import deserialize
    with open(weights_file, 'rb') as f:
        tensors, _ = deserialize(f.read())
    model = SmallCNN()
    model.load_state_dict(tensors)
    with open(x_json) as f:
        xj = json.load(f)
    x = torch.tensor(xj['values'], dtype=torch.float32).reshape(xj['shape'])
    print(json.dumps(forward_json(model, x)))


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == 'forward':
        run_peer(sys.argv[2], sys.argv[3])
    else:
        main()
