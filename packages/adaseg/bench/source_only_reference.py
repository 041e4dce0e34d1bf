#!/usr/bin/python3
"""The PyTorch reference of adaseg's source-only protocol (issue: models, training, evaluation):
the same U-Net (scripts/model_peer.py), data, augmentation, optimiser, schedule and metric as
configs/camvid-source-only.yaml, written as a plain PyTorch user would.

  source_only_reference.py --data DIR --seed S --iterations N --out RESULT.json
      [--batch 4 --width 16 --depth 4 --lr 1e-3 --threads 1]

Writes RESULT.json: mIoU, per-class IoU and pixel accuracy on source_val (day) and target_val
(dusk), and the wall time. One seed per call, so a runner can resume seed by seed.
"""
import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, '..', 'scripts'))
from model_peer import UNet  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def load_split(root, split, void):
    with open(os.path.join(root, f'{split}.txt')) as f:
        names = [line.strip() for line in f if line.strip()]
    images, labels = [], []
    for name in names:
        img = torch.from_numpy(np.array(Image.open(os.path.join(root, 'images', name)).convert('RGB'))).permute(2, 0, 1).float() / 255
        lab = torch.from_numpy(np.array(Image.open(os.path.join(root, 'labels', name)))).long()
        lab[lab == void] = 255
        images.append((img - MEAN) / STD)
        labels.append(lab)
    return torch.stack(images), torch.stack(labels)


def evaluate(model, images, labels, classes, batch=4):
    model.eval()
    cm = torch.zeros(classes * classes, dtype=torch.int64)
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = images[i:i + batch].contiguous(memory_format=torch.channels_last)
            pred = model(x).argmax(1)
            y = labels[i:i + batch]
            valid = y != 255
            cm += torch.bincount(y[valid] * classes + pred[valid], minlength=classes * classes)
    cm = cm.view(classes, classes).double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    iou = [(tp[c] / union[c]).item() if union[c] > 0 else None for c in range(classes)]
    present = [v for v in iou if v is not None]
    return {'mIoU': sum(present) / len(present), 'pixelAccuracy': (tp.sum() / cm.sum()).item(), 'iou': iou}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', required=True)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--iterations', type=int, default=1000)
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--width', type=int, default=16)
    p.add_argument('--depth', type=int, default=4)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', required=True)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    with open(os.path.join(a.data, 'meta.json')) as f:
        meta = json.load(f)
    classes, void = len(meta['classes']), meta.get('void', 11)
    started = time.time()
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    model = UNet(classes, base_width=a.width, depth=a.depth).to(memory_format=torch.channels_last)
    train_x, train_y = load_split(a.data, 'source_train', void)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=a.iterations, power=0.9)
    order, pos = [], 0
    model.train()
    for it in range(a.iterations):
        if pos + a.batch > len(order):
            order, pos = torch.randperm(len(train_x)).tolist(), 0
        idx = order[pos:pos + a.batch]
        pos += a.batch
        x, y = train_x[idx].clone(), train_y[idx].clone()
        flip = torch.rand(len(idx)) < 0.5
        x[flip] = x[flip].flip(3)
        y[flip] = y[flip].flip(2)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x.contiguous(memory_format=torch.channels_last)), y, ignore_index=255)
        loss.backward()
        opt.step()
        sched.step()
        if (it + 1) % 100 == 0:
            print(f'seed {a.seed} it {it + 1}/{a.iterations} loss {loss.item():.4f}', file=sys.stderr, flush=True)
    train_seconds = time.time() - started
    result = {'seed': a.seed, 'iterations': a.iterations, 'trainSeconds': train_seconds, 'classNames': meta['classes']}
    for name, split in (('day', 'source_val'), ('dusk', 'target_val')):
        x, y = load_split(a.data, split, void)
        result[name] = evaluate(model, x, y, classes)
    tmp = a.out + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, a.out)


if __name__ == '__main__':
    main()
