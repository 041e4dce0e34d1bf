#!/usr/bin/python3
"""PyTorch peer of bench/nn.ts: the same encoder-decoder CNN, driven over stdin/stdout (one JSON
command per line) so that the two engines run interleaved in one benchmark run."""
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree (peer_loop is imported)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from peer_loop import serve  # noqa: E402


def block(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
    )


class EncDec(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.enc1 = block(3, 32)
        self.enc2 = block(32, 64)
        self.enc3 = block(64, 128)
        self.mid = block(128, 256)
        self.dec3 = block(256 + 128, 128)
        self.dec2 = block(128 + 64, 64)
        self.dec1 = block(64 + 32, 32)
        self.head = nn.Conv2d(32, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        m = self.mid(F.max_pool2d(e3, 2))
        up = lambda t, like: F.interpolate(t, size=like.shape[-2:], mode='bilinear', align_corners=False)
        d3 = self.dec3(torch.cat([up(m, e3), e3], 1))
        d2 = self.dec2(torch.cat([up(d3, e2), e2], 1))
        d1 = self.dec1(torch.cat([up(d2, e1), e1], 1))
        return self.head(d1)


state = {}


def setup(cmd):
    torch.set_num_threads(cmd['threads'])
    torch.manual_seed(0)
    model = EncDec(cmd['classes'])
    b, h, w = cmd['batch'], cmd['height'], cmd['width']
    x = torch.randn(b, 3, h, w)
    y = torch.randint(0, cmd['classes'], (b, h, w))
    if cmd['channelsLast']:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    state.update(model=model, x=x, y=y, opt=opt)
    return {'threads': torch.get_num_threads(), 'params': sum(p.numel() for p in model.parameters())}


def train(cmd):
    model, x, y, opt = state['model'], state['x'], state['y'], state['opt']
    model.train()
    times, losses = [], []
    for _ in range(cmd['iters']):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
        losses.append(loss.item())
    return {'times': times, 'losses': losses}


def evaluate(cmd):
    model, x = state['model'], state['x']
    model.eval()
    times = []
    with torch.inference_mode():
        for _ in range(cmd['iters']):
            t = time.perf_counter()
            out = model(x)
            out.sum().item()
            times.append(time.perf_counter() - t)
    return {'times': times}


if __name__ == '__main__':
    serve({'setup': setup, 'train': train, 'eval': evaluate})
