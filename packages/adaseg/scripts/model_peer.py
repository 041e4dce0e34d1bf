#!/usr/bin/python3
"""The PyTorch side of adaseg's model tests (Debian's /usr/bin/python3, torch 1.13, torchvision 0.14;
nothing is downloaded: every model is built with weights=None).

It holds PyTorch definitions of the two adaseg models torchvision does not have, with the same
module names as src/models (so state dicts move both ways):
  UNet        src/models/unet.ts (also usable as the PyTorch reference in benchmarks)
  DeepLabV2   src/models/deeplab.ts: AdaptSegNet's DeeplabMulti layout (conv1, bn1, layer1..4,
              layer5 = layer3 head, layer6 = layer4 head, Classifier_Module.conv2d_list), with every
              ASPP branch summed (ADVENT's behaviour)

  model_peer.py numeric OUT_DIR   writes, for each case, CASE.weights.safetensors (random weights,
                                  BatchNorm statistics calibrated on random batches) and
                                  CASE.io.safetensors (the input and the eval-mode outputs), and
                                  cases.json describing them
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, '..', '..', 'torch', 'scripts'))
from safetensors_peer import serialize  # noqa: E402


# ---------------------------------------------------------------- U-Net (as src/models/unet.ts)
def double_conv(cin, cout, batch_norm=True):
    layers = []
    for a, b in ((cin, cout), (cout, cout)):
        layers.append(nn.Conv2d(a, b, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(b))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNetUp(nn.Module):
    def __init__(self, deep, skip, upsampling, batch_norm):
        super().__init__()
        if upsampling == 'transposed':
            self.up = nn.ConvTranspose2d(deep, skip, 2, stride=2)
            self.conv = double_conv(2 * skip, skip, batch_norm)
        else:
            self.up = None
            self.conv = double_conv(deep + skip, skip, batch_norm)

    def forward(self, deep, skip):
        h, w = skip.shape[-2:]
        if self.up is None:
            up = F.interpolate(deep, size=(h, w), mode='bilinear', align_corners=False)
        else:
            up = self.up(deep)
            dh, dw = h - up.shape[2], w - up.shape[3]
            if dh or dw:
                up = F.pad(up, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
        return self.conv(torch.cat([up, skip], 1))


class UNet(nn.Module):
    def __init__(self, num_classes, base_width=16, depth=4, upsampling='bilinear', batch_norm=True, dropout=0.0, in_channels=3):
        super().__init__()
        widths = [base_width * 2 ** i for i in range(depth + 1)]
        self.encoders = nn.ModuleList([double_conv(in_channels if i == 0 else widths[i - 1], c, batch_norm) for i, c in enumerate(widths)])
        self.decoders = nn.ModuleList([UNetUp(widths[i + 1], widths[i], upsampling, batch_norm) for i in range(depth)])
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else None
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)
        self.depth = depth

    def forward_features(self, x):
        skips = []
        y = self.encoders[0](x)
        for i in range(1, self.depth + 1):
            skips.append(y)
            y = self.encoders[i](F.max_pool2d(y, 2))
        for i in range(self.depth - 1, -1, -1):
            y = self.decoders[i](y, skips[i])
        return y

    def forward(self, x):
        features = self.forward_features(x)
        return self.classifier(features if self.dropout is None else self.dropout(features))


# ---------------------------------------------------------------- DeepLab v2 (AdaptSegNet layout)
class BottleneckV1(nn.Module):
    """The Caffe DeepLab ResNet block: stride on the first 1x1 conv."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, dilation=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ClassifierModule(nn.Module):
    def __init__(self, inplanes, rates, num_classes):
        super().__init__()
        self.conv2d_list = nn.ModuleList([nn.Conv2d(inplanes, num_classes, 3, padding=r, dilation=r, bias=True) for r in rates])
        for m in self.conv2d_list:
            m.weight.data.normal_(0, 0.01)

    def forward(self, x):
        out = self.conv2d_list[0](x)
        for conv in self.conv2d_list[1:]:
            out = out + conv(x)
        return out


class DeepLabV2(nn.Module):
    def __init__(self, num_classes, layers=(3, 4, 23, 3), multi_level=True, rates=(6, 12, 18, 24)):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], dilation=2)
        self.layer4 = self._make_layer(512, layers[3], dilation=4)
        self.layer5 = ClassifierModule(1024, rates, num_classes) if multi_level else None
        self.layer6 = ClassifierModule(2048, rates, num_classes)

    def _make_layer(self, planes, blocks, stride=1, dilation=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * 4))
        layers = [BottleneckV1(self.inplanes, planes, stride, dilation, downsample)]
        self.inplanes = planes * 4
        layers += [BottleneckV1(self.inplanes, planes, dilation=dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x3 = self.layer3(self.layer2(self.layer1(x)))
        x4 = self.layer4(x3)
        return {'features': x4, 'out': self.layer6(x4), 'aux': None if self.layer5 is None else self.layer5(x3)}


# ---------------------------------------------------------------- numeric fixtures
def calibrate(model, shape, seed):
    """Random affine BatchNorm parameters and running statistics from random batches, so that
    eval-mode outputs are O(1) and exercise every parameter and buffer."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in bns:
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            m.reset_running_stats()
            m.momentum = None
        model.train()
        for _ in range(2):
            model(torch.randn(shape, generator=g))
        for m in bns:
            m.momentum = 0.1
    model.eval()


def upsample(x, size):
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def case_resnet18(out_dir):
    import torchvision
    torch.manual_seed(1)
    m = torchvision.models.resnet18(weights=None)
    shape = (2, 3, 64, 64)
    calibrate(m, shape, 11)
    x = torch.randn((1, 3, 64, 64), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        y = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        y = m.layer4(m.layer3(m.layer2(m.layer1(y))))
        logits = m(x)
    return m, {'input': x, 'layer4': y, 'logits': logits}, {'model': 'resnet18'}


def case_torchvision_seg(name, num_classes=5):
    def run(out_dir):
        from torchvision.models import segmentation
        torch.manual_seed(2)
        m = getattr(segmentation, name)(weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=True)
        calibrate(m, (2, 3, 64, 64), 12)
        x = torch.randn((1, 3, 64, 64), generator=torch.Generator().manual_seed(4))
        with torch.no_grad():
            res = m(x)
            feats = m.backbone(x)['out']
            cut = 3 if name.startswith('fcn') else 4
            for layer in list(m.classifier)[:cut]:
                feats = layer(feats)
        return m, {'input': x, 'logits': res['out'], 'aux': res['aux'], 'features': feats}, {'model': name, 'num_classes': num_classes}
    return run


def case_fcn_resnet18(out_dir):
    """torchvision's FCN classes (IntermediateLayerGetter, FCNHead) on a plain ResNet-18 (output
    stride 32: torchvision's BasicBlock refuses dilation): adaseg's FCN with backbone resnet18."""
    import torchvision
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.fcn import FCN, FCNHead
    torch.manual_seed(9)
    backbone = IntermediateLayerGetter(torchvision.models.resnet18(weights=None), return_layers={'layer4': 'out', 'layer3': 'aux'})
    m = FCN(backbone, FCNHead(512, 5), FCNHead(256, 5))
    calibrate(m, (2, 3, 64, 64), 15)
    x = torch.randn((1, 3, 64, 64), generator=torch.Generator().manual_seed(10))
    with torch.no_grad():
        res = m(x)
        feats = m.backbone(x)['out']
        for layer in list(m.classifier)[:3]:
            feats = layer(feats)
    return m, {'input': x, 'logits': res['out'], 'aux': res['aux'], 'features': feats}, {'model': 'fcn', 'backbone': 'resnet18', 'num_classes': 5}


def case_unet(upsampling):
    def run(out_dir):
        torch.manual_seed(5)
        m = UNet(5, base_width=8, depth=3, upsampling=upsampling)
        shape = (2, 3, 36, 52)
        calibrate(m, shape, 13)
        g = torch.Generator().manual_seed(6)
        x = torch.randn((1, 3, 36, 52), generator=g)
        xt = torch.randn((2, 3, 36, 52), generator=g)
        with torch.no_grad():
            logits = m(x)
            features = m.forward_features(x)
        # A training-mode forward (batch statistics) and the running statistics it leaves.
        weights_before = {k: v.clone() for k, v in m.state_dict().items()}
        m.train()
        with torch.no_grad():
            train_logits = m(xt)
        bn = m.encoders[0][1]
        outputs = {'input': x, 'logits': logits, 'features': features, 'train_input': xt, 'train_logits': train_logits,
                   'train_running_mean': bn.running_mean.clone(), 'train_running_var': bn.running_var.clone()}
        m.load_state_dict(weights_before)
        return m, outputs, {'model': 'unet', 'num_classes': 5, 'baseWidth': 8, 'depth': 3, 'upsampling': upsampling}
    return run


def case_deeplabv2(out_dir):
    torch.manual_seed(7)
    m = DeepLabV2(5, layers=(3, 4, 6, 3))
    calibrate(m, (2, 3, 68, 60), 14)
    x = torch.randn((1, 3, 68, 60), generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        res = m(x)
    size = x.shape[-2:]
    return m, {'input': x, 'logits': upsample(res['out'], size), 'aux': upsample(res['aux'], size), 'features': res['features']}, {
        'model': 'deeplabv2', 'backbone': 'resnet50', 'num_classes': 5}


CASES = {
    'resnet18': case_resnet18,
    'deeplabv3_resnet50': case_torchvision_seg('deeplabv3_resnet50'),
    'fcn_resnet18_os32': case_fcn_resnet18,
    'unet_bilinear': case_unet('bilinear'),
    'unet_transposed': case_unet('transposed'),
    'deeplabv2_resnet50': case_deeplabv2,
}


def numeric(out_dir, names):
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    described = {}
    for name in names:
        model, outputs, info = CASES[name](out_dir)
        weights = {k: v.contiguous() for k, v in model.state_dict().items()}
        with open(os.path.join(out_dir, f'{name}.weights.safetensors'), 'wb') as f:
            f.write(serialize(weights))
        with open(os.path.join(out_dir, f'{name}.io.safetensors'), 'wb') as f:
            f.write(serialize({k: v.contiguous() for k, v in outputs.items()}))
        described[name] = info
    with open(os.path.join(out_dir, 'cases.json'), 'w') as f:
        json.dump(described, f, indent=1)
    print(json.dumps({'cases': list(described)}))


def main(argv):
    if len(argv) >= 2 and argv[0] == 'numeric':
        names = argv[2:] or list(CASES)
        unknown = [n for n in names if n not in CASES]
        if unknown:
            print(f'unknown case(s): {unknown}; known: {list(CASES)}', file=sys.stderr)
            return 2
        numeric(argv[1], names)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
