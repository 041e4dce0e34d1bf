#!/usr/bin/python3
"""PyTorch peer of bench/train.ts: a train step (zero grad, forward, cross-entropy with ignore index
255, backward, SGD with momentum 0.9) and an eval forward (torch.inference_mode) of the U-Net of
scripts/model_peer.py (same module names as adaseg's) or torchvision's deeplabv3_resnet50
(weights=None, weights_backbone=None, num_classes=11, aux_loss=False). Weights and inputs come from
the file bench/train.ts writes. Driven over stdin/stdout, one JSON command per line, so the two
engines run interleaved in one benchmark run."""
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'scripts'))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'torch', 'scripts'))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'torch', 'bench'))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torchvision.models.segmentation import deeplabv3_resnet50  # noqa: E402
from model_peer import UNet  # noqa: E402
from safetensors_peer import deserialize  # noqa: E402
from peer_loop import serve  # noqa: E402

IGNORE = 255


class Logits(torch.nn.Module):
    """torchvision's segmentation models return {'out': logits}; keep the state-dict keys as they are."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)['out']


state = {}


def setup(cmd):
    torch.set_num_threads(cmd['threads'])
    torch.manual_seed(0)
    with open(cmd['file'], 'rb') as f:
        tensors, _ = deserialize(f.read())
    if cmd['model'] == 'unet':
        model = UNet(cmd['classes'])
        forward = model
    else:
        model = deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=cmd['classes'], aux_loss=False)
        forward = Logits(model)
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith('input.')}, strict=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    state.update(model=model, forward=forward, opt=opt, x=tensors['input.x'], y=tensors['input.y'])
    return {'threads': torch.get_num_threads(), 'params': sum(p.numel() for p in model.parameters())}


def train(cmd):
    model, forward, opt, x, y = state['model'], state['forward'], state['opt'], state['x'], state['y']
    model.train()
    times, losses = [], []
    for _ in range(cmd['iters']):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(x), y, ignore_index=IGNORE)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        times.append(time.perf_counter() - t)
    return {'times': times, 'losses': losses}


def evaluate(cmd):
    model, forward, x = state['model'], state['forward'], state['x']
    model.eval()
    times = []
    with torch.inference_mode():
        for _ in range(cmd['iters']):
            t = time.perf_counter()
            forward(x).sum().item()
            times.append(time.perf_counter() - t)
    return {'times': times}


if __name__ == '__main__':
    serve({'setup': setup, 'train': train, 'eval': evaluate})
