#!/usr/bin/python3
"""Where a selection strategy's labels would go (issue 7's analysis in BENCHMARKS.md, session 5).

Loads an adaseg checkpoint of the U-Net (and its AdaptSegNet discriminator when the checkpoint has
one, as a warm-up's does), predicts every image of camvid-day2dusk's target_pool at 120x90, cuts
each into 3x3 regions and prints, for the top 1% of regions under random, entropy, RIPU (region
impurity x mean entropy), AADA (w(x) x entropy), the discriminator's target-ness and the mean
confidence: how many of the region's labelled pixels the model has wrong, the void share and the
ground-truth class mix; then the same with the ranking stratified by predicted class, and the
error rate per entropy decile. Reads the ground truth, so it is an analysis, never a strategy.

Usage: /usr/bin/python3 scripts/region_errors.py CHECKPOINT.safetensors [DATASET_ROOT]
(Debian's python3-torch; CPU, about 20 s.)
"""
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', '..', 'torch', 'scripts'))
sys.path.insert(0, os.path.join(HERE, '..', 'bench'))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from adapt_peer import FCDiscriminator  # noqa: E402
from model_peer import UNet  # noqa: E402
from safetensors_peer import deserialize  # noqa: E402

C = 11  # camvid-day2dusk's classes; 11 = void
NAMES = ['sky', 'building', 'pole', 'road', 'pavement', 'tree', 'sign', 'fence', 'car', 'pedestrian', 'bicyclist', 'void']
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def regions(checkpoint, root):
    with open(checkpoint, 'rb') as f:
        w, _ = deserialize(f.read())
    model = UNet(C, dropout=0.1)
    model.load_state_dict({k[len('model.'):]: v for k, v in w.items() if k.startswith('model.')})
    model.eval()
    d_keys = {k[len('modules.d_main.'):]: v for k, v in w.items() if k.startswith('modules.d_main.')}
    d = None
    if d_keys:
        d = FCDiscriminator(C, ndf=d_keys['conv1.weight'].shape[0])
        d.load_state_dict(d_keys)
        d.eval()
    with open(os.path.join(root, 'target_pool.txt')) as f:
        names = [line.strip() for line in f if line.strip()]
    rows = []
    for n in names:
        img = Image.open(os.path.join(root, 'images', n)).convert('RGB').resize((120, 90), Image.BILINEAR)
        lab = np.asarray(Image.open(os.path.join(root, 'labels', n)))[1::2, 1::2]  # the pixel nearest-neighbour resizing samples
        x = (torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None] - MEAN) / STD
        with torch.no_grad():
            p = model(x).softmax(1)
            # Target-ness: the discriminator's probability of "target" (label 1 in AdaptSegNet's training).
            t = F.interpolate(torch.sigmoid(d(p)), size=(90, 120), mode='bilinear', align_corners=False)[0, 0].numpy() if d is not None else None
        p = p[0]
        pred = p.argmax(0).numpy()
        ent = (-(p * p.clamp_min(1e-12).log()).sum(0) / math.log(C)).numpy()
        conf = p.max(0).values.numpy()
        for ry in range(30):
            for rx in range(40):
                sl = (slice(ry * 3, ry * 3 + 3), slice(rx * 3, rx * 3 + 3))
                g, pr = lab[sl], pred[sl]
                valid = g != C
                hist = np.bincount(pr.ravel(), minlength=C) / 9
                nz = hist[hist > 0]
                rows.append(dict(
                    err=int(((pr != g) & valid).sum()), valid=int(valid.sum()), ent=float(ent[sl].mean()), conf=float(conf[sl].mean()),
                    imp=float(-(nz * np.log(nz)).sum() / math.log(C)), tgt=float(t[sl].mean()) if t is not None else 0.0,
                    gt=int(np.bincount(g.ravel(), minlength=C + 1).argmax()), pred=int(np.bincount(pr.ravel(), minlength=C).argmax())))
    return rows


def report(rows):
    col = lambda k: np.array([r[k] for r in rows])  # noqa: E731
    err, valid, ent, conf, imp, tgt, gt, pred = (col(k) for k in ('err', 'valid', 'ent', 'conf', 'imp', 'tgt', 'gt', 'pred'))
    n = len(rows)
    k = round(0.01 * n)
    print(f'{n} regions, top {k} (1%); the model is wrong on {err.sum() / valid.sum():.1%} of the labelled pixels')
    w = tgt.clip(1e-6, 1 - 1e-6)
    w = w / (1 - w)
    scores = {'random': np.random.default_rng(0).random(n), 'entropy': ent, 'ripu': ent * imp, 'aada': w * ent, 'targetness': tgt, 'confidence': conf}

    def line(name, top):
        cls = np.bincount(gt[top], minlength=C + 1) / len(top)
        mix = ' '.join(f'{NAMES[c]} {cls[c]:.0%}' for c in range(C + 1) if cls[c] > 0.03)
        print(f'{name:22s} model wrong {err[top].sum() / max(1, valid[top].sum()):4.0%}  void {1 - valid[top].sum() / (9 * len(top)):4.0%}  {mix}')

    for name, s in scores.items():
        line(name, np.argsort(-s)[:k])

    def stratified(s):
        area = np.bincount(pred, minlength=C).astype(float)
        quota = np.floor(area / area.sum() * k).astype(int)
        out = []
        for c in range(C):
            idx = np.where(pred == c)[0]
            out += list(idx[np.argsort(-s[idx])][:quota[c]])
        taken = set(out)
        out += [i for i in np.argsort(-s) if i not in taken][:k - len(out)]
        return np.array(out)

    for name in ('entropy', 'ripu'):
        line(f'{name}, per pred. class', stratified(scores[name]))
    q = np.quantile(ent, np.linspace(0, 1, 11))
    deciles = [(ent >= q[i]) & (ent <= q[i + 1]) for i in range(10)]
    print('model wrong per entropy decile (most certain first):', ' '.join(f'{err[m].sum() / max(1, valid[m].sum()):.0%}' for m in deciles))


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    report(regions(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, '..', '..', '..', '..', 'shared', 'datasets', 'camvid-day2dusk')))
