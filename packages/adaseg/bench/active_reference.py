#!/usr/bin/python3
"""The plain PyTorch reference of issue 7's active protocol on camvid-day2dusk, written as a plain
PyTorch user would: the U-Net of scripts/model_peer.py at 120x90, source training, then 5 rounds
that each buy 1% of the pool's pixels as 3x3 regions or single pixels (global ranking, void pixels
count) and fine-tune the previous round's model on source + labelled pixels only (no
unlabelled-target loss), and the fully supervised baseline (source + every pool label, as many
iterations as the rounds).

It answers one question: what ratio to full supervision does the plain protocol reach *here*, with
the same model, data and schedule as our pipeline? The issue quotes 93-97% at 1-5%.

  active_reference.py --data DIR --seed S --out DIR
      [--strategies random,entropy,ripu --units region|pixel --source-iterations 800
       --round-iterations 100 --round-lr 5e-4 --class-weights none|median --threads 1]

Writes OUT/seed-S.json (resumable: each finished strategy is kept in it; the source model is
cached as OUT/seed-S.source.pt).
"""
import argparse
import json
import os
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

sys.path.insert(0, HERE)
from source_only_reference import evaluate  # noqa: E402  (the same metric)

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
W, H = 120, 90  # resolution


def load_split(root, split, void):
    with open(os.path.join(root, f'{split}.txt')) as f:
        names = [line.strip() for line in f if line.strip()]
    images, labels = [], []
    for name in names:
        img = Image.open(os.path.join(root, 'images', name)).convert('RGB').resize((W, H), Image.BILINEAR)
        lab = Image.open(os.path.join(root, 'labels', name)).resize((W, H), Image.NEAREST)
        x = torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255
        y = torch.from_numpy(np.array(lab)).long()
        y[y == void] = 255
        images.append((x - MEAN) / STD)
        labels.append(y)
    return torch.stack(images), torch.stack(labels)


def median_frequency_weights(labels, classes):
    counts = torch.bincount(labels[labels != 255], minlength=classes).double()
    freq = counts / counts.sum()
    present = freq[freq > 0]
    w = torch.where(freq > 0, present.median() / freq.clamp_min(1e-12), torch.zeros_like(freq))
    return w.float()


class Batches:
    """Shuffled batches over a subset of indices, reshuffled each epoch."""

    def __init__(self, indices, batch, gen):
        self.indices, self.batch, self.gen, self.order, self.pos = list(indices), batch, gen, [], 0

    def next(self):
        if self.pos + self.batch > len(self.order):
            perm = torch.randperm(len(self.indices), generator=self.gen).tolist()
            self.order, self.pos = [self.indices[i] for i in perm], 0
        out = self.order[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return out


def flipped(x, y, gen):
    x, y = x.clone(), y.clone()
    flip = torch.rand(len(x), generator=gen) < 0.5
    x[flip] = x[flip].flip(3)
    y[flip] = y[flip].flip(2)
    return x.contiguous(memory_format=torch.channels_last), y


def train(model, iterations, lr, source, target, weight, gen):
    """Adam + poly(0.9); per iteration a source batch and (when given) a labelled target batch."""
    sx, sy = source
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=iterations, power=0.9)
    src = Batches(range(len(sx)), 4, gen)
    tgt = None
    if target is not None:
        tx, ty = target
        keep = [i for i in range(len(ty)) if (ty[i] != 255).any()]
        tgt = Batches(keep, 4, gen)
    model.train()
    for _ in range(iterations):
        opt.zero_grad(set_to_none=True)
        idx = src.next()
        x, y = flipped(sx[idx], sy[idx], gen)
        F.cross_entropy(model(x), y, weight=weight, ignore_index=255).backward()
        if tgt is not None:
            idx = tgt.next()
            x, y = flipped(tx[idx], ty[idx], gen)
            F.cross_entropy(model(x), y, weight=weight, ignore_index=255).backward()
        opt.step()
        sched.step()


def region_scores(model, images, strategy, gen, size):
    """One score per size x size region (size 1: per pixel) of every pool image: [N, H/size, W/size]."""
    n = len(images)
    if strategy == 'random':
        return torch.rand(n, H // size, W // size, generator=gen)
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, n, 8):
            p = model(images[i:i + 8].contiguous(memory_format=torch.channels_last)).softmax(1)
            ent = -(p * p.clamp_min(1e-12).log()).sum(1, keepdim=True)
            uncertainty = F.avg_pool2d(ent, size)[:, 0]
            if strategy == 'entropy':
                out.append(uncertainty)
                continue
            # RIPU, region variant: entropy of the region's predicted-class histogram x its mean
            # pixel entropy.
            onehot = F.one_hot(p.argmax(1), p.shape[1]).permute(0, 3, 1, 2).float()
            hist = F.avg_pool2d(onehot, size)
            impurity = -(hist * hist.clamp_min(1e-12).log()).sum(1)
            out.append(impurity * uncertainty)
    return torch.cat(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', required=True)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', required=True)
    p.add_argument('--strategies', default='random,entropy,ripu')
    p.add_argument('--units', choices=['region', 'pixel'], default='region', help='3x3 regions (default) or single pixels (random and entropy only)')
    p.add_argument('--source-iterations', type=int, default=800)
    p.add_argument('--round-iterations', type=int, default=100)
    p.add_argument('--round-lr', type=float, default=5e-4)
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--percent-per-round', type=float, default=1.0)
    p.add_argument('--class-weights', choices=['none', 'median'], default='none')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--source-checkpoint', help="start from this adaseg source checkpoint (.safetensors) instead of training one: separates the source model's share of a difference from the rounds'")
    a = p.parse_args()

    unknown = [s for s in a.strategies.split(',') if s not in ('random', 'entropy', 'ripu')]
    if unknown:
        p.error(f"--strategies: unknown {', '.join(unknown)} (expected a comma-separated list of random, entropy, ripu)")
    if a.units == 'pixel' and 'ripu' in a.strategies.split(','):
        p.error("--strategies: ripu scores a region's impurity, which a single pixel does not have: use --units region")
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.data, 'meta.json')) as f:
        meta = json.load(f)
    classes, void = len(meta['classes']), meta.get('void', 11)
    os.makedirs(a.out, exist_ok=True)
    result_file = os.path.join(a.out, f'seed-{a.seed}.json')
    result = json.load(open(result_file)) if os.path.exists(result_file) else {'seed': a.seed, 'args': vars(a), 'classNames': meta['classes'], 'strategies': {}}
    # Resuming adds strategies to a seed's results: only with the settings they were made with
    # (threads, the strategy list and the folder do not change the numbers).
    # Settings added later count as their default in older results.
    changed = [k for k, v in vars(a).items() if k not in ('threads', 'strategies', 'out') and result['args'].get(k, p.get_default(k)) != v]
    if changed:
        was = result['args']
        diffs = ', '.join(f"--{k.replace('_', '-')} {was.get(k, p.get_default(k))!r}, now {getattr(a, k)!r}" for k in changed)
        p.error(f'{result_file} was made with other settings ({diffs}): use another --out')

    def save():
        tmp = result_file + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(result, f, indent=2)
        os.replace(tmp, result_file)

    source = load_split(a.data, 'source_train', void)
    pool_x, pool_y = load_split(a.data, 'target_pool', void)
    val = load_split(a.data, 'target_val', void)
    # Which classes target_val's ground truth holds (fence does not): for the in-truth mIoU of
    # both engines' results.
    result['classesInTruth'] = [bool((val[1] == c).any()) for c in range(classes)]
    save()
    weight = median_frequency_weights(source[1], classes) if a.class_weights == 'median' else None

    source_file = os.path.join(a.out, f'seed-{a.seed}.source.pt')
    torch.manual_seed(a.seed)
    model = UNet(classes, base_width=16, depth=4, dropout=0.1).to(memory_format=torch.channels_last)
    if a.source_checkpoint:
        sys.path.insert(0, os.path.join(HERE, '..', '..', 'torch', 'scripts'))
        from safetensors_peer import deserialize
        with open(a.source_checkpoint, 'rb') as f:
            tensors, _ = deserialize(f.read())
        model.load_state_dict({k[len('model.'):]: v for k, v in tensors.items() if k.startswith('model.')})
    elif os.path.exists(source_file):
        model.load_state_dict(torch.load(source_file))
    else:
        t = time.time()
        train(model, a.source_iterations, 1e-3, source, None, weight, torch.Generator().manual_seed(a.seed))
        torch.save(model.state_dict(), source_file + '.tmp')
        os.replace(source_file + '.tmp', source_file)
        print(f'seed {a.seed}: source trained in {time.time() - t:.0f} s', file=sys.stderr, flush=True)
    source_state = {k: v.clone() for k, v in model.state_dict().items()}
    if 'source' not in result:
        result['source'] = evaluate(model, *val, classes)
        save()

    if 'full' not in result:
        t = time.time()
        model.load_state_dict(source_state)
        train(model, a.rounds * a.round_iterations, a.round_lr, source, (pool_x, pool_y), weight, torch.Generator().manual_seed(a.seed + 1000))
        result['full'] = evaluate(model, *val, classes)
        save()
        print(f'seed {a.seed}: full {100 * result["full"]["mIoU"]:.1f} ({time.time() - t:.0f} s)', file=sys.stderr, flush=True)

    size = 3 if a.units == 'region' else 1
    pixels = pool_y.numel()
    per_round = round(pixels * a.percent_per_round / 100 / size ** 2)
    for strategy in a.strategies.split(','):
        if strategy in result['strategies']:
            continue
        gen = torch.Generator().manual_seed(a.seed * 7919 + len(strategy))
        model.load_state_dict(source_state)
        chosen = torch.zeros(len(pool_x), H // size, W // size, dtype=torch.bool)
        rounds = []
        for r in range(a.rounds):
            scores = region_scores(model, pool_x, strategy, gen, size)
            scores[chosen] = -float('inf')
            top = scores.flatten().topk(per_round).indices
            chosen.view(-1)[top] = True
            # Reveal exactly the chosen regions' ground truth (void stays 255 but was paid for).
            mask = chosen.repeat_interleave(size, 1).repeat_interleave(size, 2)
            known = torch.where(mask, pool_y, torch.full_like(pool_y, 255))
            train(model, a.round_iterations, a.round_lr, source, (pool_x, known), weight, gen)
            ev = evaluate(model, *val, classes)
            ev['percent'] = 100 * mask.sum().item() / pixels
            rounds.append(ev)
            print(f'seed {a.seed} {strategy} round {r + 1}: {ev["percent"]:.2f}% mIoU {100 * ev["mIoU"]:.1f}', file=sys.stderr, flush=True)
        result['strategies'][strategy] = rounds
        save()


if __name__ == '__main__':
    main()
