// Segmentation heads with the module trees (and so the state-dict keys) of their references:
// torchvision's FCNHead, DeepLabHead and ASPP, and DeepLab v2's ASPP classifier as AdaptSegNet
// and ADVENT write it (Classifier_Module: conv2d_list.{i}).
import * as torch from '@adaseg/torch';

const { nn } = torch;
const F = torch.functional;
type Tensor = torch.Tensor;

/** Runs layers [from, to) of a Sequential, freeing intermediates (the input is not freed). */
export function runLayers(seq: torch.nn.Sequential, x: Tensor, from: number, to: number): Tensor {
  let out = x;
  for (let i = from; i < to; i++) {
    const next = seq.at(i).forward(out);
    if (out !== x && next !== out) out.dispose();
    out = next;
  }
  return out;
}

/** The output of a head before its final 1x1 classifier, and the classifier's logits. */
export interface HeadOutput {
  features: Tensor;
  logits: Tensor;
}

/**
 * torchvision's FCNHead: conv3x3 (in → in/4) - BN - ReLU - Dropout(0.1) - conv1x1 (→ classes).
 * Keys 0.weight, 1.*, 4.weight, 4.bias.
 */
export class FCNHead extends nn.Sequential {
  readonly channels: number;

  constructor(inChannels: number, numClasses: number) {
    const inter = Math.floor(inChannels / 4);
    super(
      new nn.Conv2d({ inChannels, outChannels: inter, kernelSize: 3, padding: 1, bias: false }),
      new nn.BatchNorm2d({ numFeatures: inter }),
      new nn.ReLU({ inplace: true }),
      new nn.Dropout({ p: 0.1 }),
      new nn.Conv2d({ inChannels: inter, outChannels: numClasses, kernelSize: 1 }),
    );
    this.channels = inter;
  }

  /**
   * features: after the ReLU (before the head's own dropout), [N, in/4, h, w]. `extra` is applied
   * to the features between that dropout and the classifier (a model-level dropout point).
   */
  forwardHead(x: Tensor, extra: torch.nn.Layer | null = null): HeadOutput {
    return torch.tidy(() => {
      const features = runLayers(this, x, 0, 3);
      let y = this.at(3).forward(features);
      if (extra !== null) y = extra.forward(y);
      return { features, logits: this.at(4).forward(y) };
    });
  }
}

/** torchvision's ASPPConv: conv3x3 dilated - BN - ReLU. */
export class ASPPConv extends nn.Sequential {
  constructor(inChannels: number, outChannels: number, dilation: number) {
    super(
      new nn.Conv2d({ inChannels, outChannels, kernelSize: 3, padding: dilation, dilation, bias: false }),
      new nn.BatchNorm2d({ numFeatures: outChannels }),
      new nn.ReLU(),
    );
  }
}

/** torchvision's ASPPPooling: global average pool - conv1x1 - BN - ReLU, upsampled back. */
export class ASPPPooling extends nn.Sequential {
  constructor(inChannels: number, outChannels: number) {
    super(
      new nn.AdaptiveAvgPool2d(1),
      new nn.Conv2d({ inChannels, outChannels, kernelSize: 1, bias: false }),
      new nn.BatchNorm2d({ numFeatures: outChannels }),
      new nn.ReLU(),
    );
  }

  override forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const y = runLayers(this, x, 0, this.length);
      return F.interpolate(y, { size: [x.shape[2], x.shape[3]], mode: 'bilinear', alignCorners: false });
    });
  }
}

/**
 * torchvision's ASPP: convs.0 (1x1), convs.1..k (dilated 3x3, one per rate), convs.k+1 (image
 * pooling), concatenated, then project (1x1 - BN - ReLU - Dropout(0.5)).
 */
export class ASPP extends torch.nn.Module {
  readonly convs: torch.nn.ModuleList<torch.nn.Sequential>;
  readonly project: torch.nn.Sequential;

  constructor(inChannels: number, atrousRates: number[], outChannels = 256) {
    super();
    const modules: torch.nn.Sequential[] = [
      new nn.Sequential(
        new nn.Conv2d({ inChannels, outChannels, kernelSize: 1, bias: false }),
        new nn.BatchNorm2d({ numFeatures: outChannels }),
        new nn.ReLU(),
      ),
    ];
    for (const rate of atrousRates) modules.push(new ASPPConv(inChannels, outChannels, rate));
    modules.push(new ASPPPooling(inChannels, outChannels));
    this.convs = this.registerModule('convs', new nn.ModuleList(modules));
    this.project = this.registerModule(
      'project',
      new nn.Sequential(
        new nn.Conv2d({ inChannels: modules.length * outChannels, outChannels, kernelSize: 1, bias: false }),
        new nn.BatchNorm2d({ numFeatures: outChannels }),
        new nn.ReLU(),
        new nn.Dropout({ p: 0.5 }),
      ),
    );
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const branches = [...this.convs].map((m) => m.forward(x));
      const cat = torch.cat(branches, 1);
      for (const b of branches) b.dispose();
      return this.project.forward(cat);
    });
  }
}

/**
 * torchvision's DeepLabHead: ASPP(in, rates) - conv3x3 256 - BN - ReLU - conv1x1 (→ classes).
 * torchvision fixes the rates at 12/24/36 (for output stride 8); the keys do not depend on them.
 */
export class DeepLabHead extends nn.Sequential {
  readonly channels = 256;

  constructor(inChannels: number, numClasses: number, atrousRates: number[] = [12, 24, 36]) {
    super(
      new ASPP(inChannels, atrousRates),
      new nn.Conv2d({ inChannels: 256, outChannels: 256, kernelSize: 3, padding: 1, bias: false }),
      new nn.BatchNorm2d({ numFeatures: 256 }),
      new nn.ReLU(),
      new nn.Conv2d({ inChannels: 256, outChannels: numClasses, kernelSize: 1 }),
    );
  }

  /** features: after the ReLU, [N, 256, h, w]; `extra` (a dropout point) applies before the classifier. */
  forwardHead(x: Tensor, extra: torch.nn.Layer | null = null): HeadOutput {
    return torch.tidy(() => {
      const features = runLayers(this, x, 0, 4);
      const y = extra === null ? features : extra.forward(features);
      return { features, logits: this.at(4).forward(y) };
    });
  }
}

/**
 * DeepLab v2's ASPP classifier (AdaptSegNet's and ADVENT's Classifier_Module): one 3x3 conv per
 * rate straight to the classes, with bias, the outputs summed. Keys conv2d_list.{i}.weight/bias.
 * Weights start from N(0, 0.01) as in the reference. All branches are summed (ADVENT's behaviour;
 * AdaptSegNet's released code returns inside its loop and so sums only the first two).
 */
export class ASPPClassifierV2 extends torch.nn.Module {
  readonly conv2d_list: torch.nn.ModuleList<torch.nn.Conv2d>;

  constructor(inChannels: number, rates: number[], numClasses: number) {
    super();
    this.conv2d_list = this.registerModule(
      'conv2d_list',
      new nn.ModuleList(rates.map((d) => new nn.Conv2d({ inChannels, outChannels: numClasses, kernelSize: 3, padding: d, dilation: d, bias: true }))),
    );
    for (const c of this.conv2d_list) nn.init.normal_(c.weight, 0, 0.01);
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      let out: Tensor | null = null;
      for (const c of this.conv2d_list) {
        const y = c.forward(x);
        if (out === null) out = y;
        else {
          out.add_(y);
          y.dispose();
        }
      }
      return out!;
    });
  }
}
