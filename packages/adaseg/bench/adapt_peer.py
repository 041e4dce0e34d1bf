#!/usr/bin/python3
"""PyTorch peer of bench/adapt.ts: one AdaptSegNet iteration (segmenter step with the discriminator
frozen, then the discriminator step on detached predictions) in the order of AdaptSegNet's and
ADVENT's training loops, on the U-Net of scripts/model_peer.py and AdaptSegNet's FCDiscriminator.
Weights and inputs come from the file bench/adapt.ts writes. Driven over stdin/stdout, one JSON
command per line, so the two engines run interleaved in one benchmark run."""
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'scripts'))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'torch', 'bench'))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from model_peer import UNet  # noqa: E402  (also puts packages/torch/scripts on the path)
from safetensors_peer import deserialize  # noqa: E402
from peer_loop import serve  # noqa: E402

LAMBDA_ADV = 1e-3
SOURCE_LABEL = 0
TARGET_LABEL = 1


class FCDiscriminator(nn.Module):
    def __init__(self, num_classes, ndf=64):
        super().__init__()
        conv = lambda a, b: nn.Conv2d(a, b, kernel_size=4, stride=2, padding=1)  # noqa: E731
        self.conv1 = conv(num_classes, ndf)
        self.conv2 = conv(ndf, ndf * 2)
        self.conv3 = conv(ndf * 2, ndf * 4)
        self.conv4 = conv(ndf * 4, ndf * 8)
        self.classifier = conv(ndf * 8, 1)
        self.leaky_relu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = self.leaky_relu(conv(x))
        return self.classifier(x)


def bce(out, label):
    return F.binary_cross_entropy_with_logits(out, torch.full_like(out, label))


state = {}


def setup(cmd):
    torch.set_num_threads(cmd['threads'])
    with open(cmd['file'], 'rb') as f:
        tensors, _ = deserialize(f.read())
    model = UNet(cmd['classes'])
    model.load_state_dict({k[len('model.'):]: v for k, v in tensors.items() if k.startswith('model.')})
    d = FCDiscriminator(cmd['classes'])
    d.load_state_dict({k[len('d.'):]: v for k, v in tensors.items() if k.startswith('d.')})
    opt = torch.optim.SGD(model.parameters(), lr=2.5e-4, momentum=0.9, weight_decay=5e-4)
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.9, 0.99))
    state.update(model=model, d=d, opt=opt, opt_d=opt_d, xs=tensors['xs'], ys=tensors['ys'], xt=tensors['xt'])
    return {'threads': torch.get_num_threads(), 'params': sum(p.numel() for p in model.parameters()),
            'dParams': sum(p.numel() for p in d.parameters())}


def step(cmd):
    model, d, opt, opt_d = state['model'], state['d'], state['opt'], state['opt_d']
    xs, ys, xt = state['xs'], state['ys'], state['xt']
    times, losses = [], []
    for _ in range(cmd['iters']):
        t = time.perf_counter()
        model.train()
        opt.zero_grad(set_to_none=True)
        opt_d.zero_grad(set_to_none=True)
        # Segmenter: D frozen.
        for p in d.parameters():
            p.requires_grad = False
        pred_s = model(xs)
        loss_seg = F.cross_entropy(pred_s, ys, ignore_index=255)
        loss_seg.backward()
        pred_t = model(xt)
        loss_adv = bce(d(F.softmax(pred_t, dim=1)), SOURCE_LABEL)
        (LAMBDA_ADV * loss_adv).backward()
        # Discriminator: detached predictions.
        for p in d.parameters():
            p.requires_grad = True
        loss_d = bce(d(F.softmax(pred_s.detach(), dim=1)), SOURCE_LABEL) / 2 + bce(d(F.softmax(pred_t.detach(), dim=1)), TARGET_LABEL) / 2
        loss_d.backward()
        opt_d.step()
        opt.step()
        row = {'seg': loss_seg.item(), 'adv': loss_adv.item(), 'd': loss_d.item()}
        times.append(time.perf_counter() - t)
        losses.append(row)
    return {'times': times, 'losses': losses}


if __name__ == '__main__':
    serve({'setup': setup, 'step': step})
