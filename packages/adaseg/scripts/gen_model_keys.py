#!/usr/bin/python3
"""Writes test/fixtures/model_keys.json: the state-dict keys (in order) and shapes of torchvision's
models that adaseg reproduces, built with weights=None (nothing is downloaded), and of the
DeepLab v2 layout of scripts/model_peer.py (AdaptSegNet's names).

  /usr/bin/python3 packages/adaseg/scripts/gen_model_keys.py [OUT_JSON]

Segmentation models are built with num_classes=21 (torchvision's default) and, for the ResNets,
the default 1000-class fc.
"""
import json
import os
import sys

import torch
import torchvision
from torchvision.models import segmentation

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
from model_peer import DeepLabV2  # noqa: E402

NUM_CLASSES = 21


def keys(model):
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def models():
    yield 'resnet18', {}, lambda: torchvision.models.resnet18(weights=None)
    yield 'resnet50', {}, lambda: torchvision.models.resnet50(weights=None)
    yield 'resnet101', {}, lambda: torchvision.models.resnet101(weights=None)
    for name in ('fcn_resnet50', 'fcn_resnet101', 'deeplabv3_resnet50', 'deeplabv3_resnet101'):
        for aux in (False, True):
            fn = getattr(segmentation, name)
            yield (f'{name}{"_aux" if aux else ""}', {'num_classes': NUM_CLASSES, 'aux': aux},
                   lambda fn=fn, aux=aux: fn(weights=None, weights_backbone=None, num_classes=NUM_CLASSES, aux_loss=aux))
    for multi in (True, False):
        yield (f'deeplabv2_resnet101{"_multi" if multi else ""}', {'num_classes': NUM_CLASSES, 'multiLevel': multi, 'source': 'scripts/model_peer.py (AdaptSegNet layout)'},
               lambda multi=multi: DeepLabV2(NUM_CLASSES, multi_level=multi))


def main(argv):
    out = argv[0] if argv else os.path.join(HERE, '..', 'test', 'fixtures', 'model_keys.json')
    result = {
        'generator': 'packages/adaseg/scripts/gen_model_keys.py',
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'models': {},
    }
    for name, info, build in models():
        with torch.no_grad():
            model = build()
        result['models'][name] = {**info, 'keys': keys(model)}
        del model
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        # One key per line keeps the file small and diffs readable.
        f.write('{\n')
        f.write(f' "generator": {json.dumps(result["generator"])},\n "torch": {json.dumps(result["torch"])},\n')
        f.write(f' "torchvision": {json.dumps(result["torchvision"])},\n "models": {{\n')
        names = list(result['models'])
        for i, name in enumerate(names):
            entry = result['models'][name]
            meta = {k: v for k, v in entry.items() if k != 'keys'}
            f.write(f'  {json.dumps(name)}: {{\n')
            for k, v in meta.items():
                f.write(f'   {json.dumps(k)}: {json.dumps(v)},\n')
            f.write('   "keys": {\n')
            items = list(entry['keys'].items())
            for j, (k, shape) in enumerate(items):
                f.write(f'    {json.dumps(k)}: {json.dumps(shape)}{"," if j < len(items) - 1 else ""}\n')
            f.write(f'   }}\n  }}{"," if i < len(names) - 1 else ""}\n')
        f.write(' }\n}\n')
    print(f'wrote {out}: {len(names)} models, {sum(len(e["keys"]) for e in result["models"].values())} keys')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
