#!/usr/bin/python3
"""PyTorch peer of bench/select.ts: the same scoring pass over the target pool as adaseg's
scorePool with the entropy and RIPU (region, k = 1) strategies on 3x3 region units, written
plainly: PIL-decoded images normalised with ImageNet statistics, the U-Net of scripts/model_peer.py
(weights from the file bench/select.ts writes) in eval mode under inference mode, the per-pixel
score, the per-region sums by sum pooling (ceil mode, edge regions clipped), and per-unit arrays
kept per image. Driven over stdin/stdout, one JSON command per line, so the two engines run
interleaved in one benchmark run."""
import math
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'scripts'))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'torch', 'bench'))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from model_peer import UNet  # noqa: E402  (also puts packages/torch/scripts on the path)
from safetensors_peer import deserialize, serialize  # noqa: E402
from peer_loop import serve  # noqa: E402

# Normalised in float64 then rounded to float32, as adaseg's loader does (its lookup table), so
# both engines see bit-identical inputs.
MEAN = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)
EPS = 1e-12
SIDE = 3  # region units of k = 1

state = {}


def setup(cmd):
    torch.set_num_threads(cmd['threads'])
    with open(cmd['file'], 'rb') as f:
        weights, _ = deserialize(f.read())
    classes = weights['classifier.weight'].shape[0]
    model = UNet(classes)
    model.load_state_dict(weights)
    model.eval()
    root = cmd['root']
    with open(os.path.join(root, 'target_pool.txt')) as f:
        names = [line.strip() for line in f if line.strip()]
    paths = [os.path.join(root, 'images', n if n.endswith('.png') else n + '.png') for n in names]
    w, h = Image.open(paths[0]).size
    state.update(model=model, paths=paths, batch=cmd['batch'])
    return {'threads': torch.get_num_threads(), 'params': sum(p.numel() for p in model.parameters()),
            'images': len(paths), 'width': w, 'height': h}


def load(paths):
    arrays = [np.asarray(Image.open(p).convert('RGB'), dtype=np.uint8) for p in paths]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).double().div_(255)
    return ((x - MEAN) / STD).float().contiguous()


def entropy(p, dim=1):
    return -(p * p.clamp(min=EPS).log()).sum(dim)


def region_sums(x):
    """Sums over the non-overlapping SIDE x SIDE regions, [N, K, H, W] -> [N, K, U]."""
    y = F.avg_pool2d(x, SIDE, stride=SIDE, ceil_mode=True, divisor_override=1)
    return y.flatten(2)


def score_entropy(probs, unlabelled):
    counts = region_sums(unlabelled).squeeze(1)
    mean = region_sums(entropy(probs).unsqueeze(1) * unlabelled).squeeze(1) / counts.clamp(min=1)
    return mean, counts


def score_ripu(probs, unlabelled):
    c = probs.shape[1]
    counts = region_sums(unlabelled).squeeze(1)
    ent = entropy(probs) / math.log(c)
    one_hot = F.one_hot(probs.argmax(1), c).permute(0, 3, 1, 2).float()
    hist = region_sums(one_hot * unlabelled)
    dist = hist / hist.sum(1, keepdim=True).clamp(min=1)
    impurity = entropy(dist) / math.log(c)
    uncertainty = region_sums(ent.unsqueeze(1) * unlabelled).squeeze(1) / counts.clamp(min=1)
    return impurity * uncertainty, counts


def score(cmd):
    model, paths, batch = state['model'], state['paths'], state['batch']
    fn = score_entropy if cmd['strategy'] == 'entropy' else score_ripu
    t = time.perf_counter()
    cpu = time.process_time()  # all threads of the process
    kept = []  # per image: (scores, unlabelled pixel counts) per unit
    with torch.inference_mode():
        for s in range(0, len(paths), batch):
            x = load(paths[s:s + batch])
            probs = F.softmax(model(x), dim=1)
            labelled = torch.zeros(x.shape[0], x.shape[2], x.shape[3], dtype=torch.bool)
            unlabelled = (~labelled).float().unsqueeze(1)
            scores, counts = fn(probs, unlabelled)
            for i in range(x.shape[0]):
                keep = counts[i] > 0
                kept.append((scores[i][keep].numpy().copy(), counts[i][keep].numpy().copy()))
    seconds = time.perf_counter() - t
    cpu_seconds = time.process_time() - cpu
    units = len(kept[0][0])
    if cmd.get('out'):
        with open(cmd['out'], 'wb') as f:
            f.write(serialize({'scores': torch.from_numpy(np.stack([k[0] for k in kept]))}))
    return {'seconds': seconds, 'cpuSeconds': cpu_seconds, 'images': len(kept), 'units': units}


if __name__ == '__main__':
    serve({'setup': setup, 'score': score})
