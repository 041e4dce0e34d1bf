// ResNet segmentation models. FCN and DeepLabV3 have torchvision's module trees (backbone.*,
// classifier.*, aux_classifier.*), so torchvision's fcn_resnet50 and deeplabv3_resnet50/101 state
// dicts load as they are. DeepLabV2 has AdaptSegNet's (conv1, bn1, layer1..4, layer5 = the layer3
// head, layer6 = the layer4 head), so DeepLab v2 / AdaptSegNet / ADVENT checkpoints load too.
import * as torch from '@adaseg/torch';
import { SegmentationModel, upsampleTo, type ForwardOptions, type SegmentationOutput } from './base.js';
import type { ResolvedDeepLabV2Config, ResolvedDeepLabV3Config, ResolvedFCNConfig } from './config.js';
import { ASPPClassifierV2, DeepLabHead, FCNHead } from './heads.js';
import { dilationForOutputStride, resnet, ResNet } from './resnet.js';

const { nn } = torch;
type Tensor = torch.Tensor;

function dropoutPoint(p: number): torch.nn.Dropout2d | null {
  return p > 0 ? new nn.Dropout2d({ p }) : null;
}

/** torchvision's _SimpleSegmentationModel: backbone (a ResNet without fc), classifier, optional aux_classifier. */
abstract class SimpleSegmentationModel extends SegmentationModel {
  readonly backbone: ResNet;
  readonly aux_classifier: FCNHead | null;
  /** A Dropout2d before the final classifier conv (the `dropout` option), or null. No parameters. */
  readonly dropout: torch.nn.Dropout2d | null;

  constructor(backbone: ResNet, aux: FCNHead | null, dropout: number) {
    super();
    this.backbone = this.registerModule('backbone', backbone);
    this.aux_classifier = aux;
    this.dropout = dropoutPoint(dropout);
  }

  /** Registers the heads in torchvision's order: classifier, then aux_classifier. */
  protected registerHeads(classifier: torch.nn.Module): void {
    this.registerModule('classifier', classifier);
    this.registerModule('aux_classifier', this.aux_classifier);
    this.registerModule('dropout', this.dropout);
  }

  protected abstract runClassifier(x: Tensor): { features: Tensor; logits: Tensor };

  protected backboneModules(): torch.nn.Module[] {
    return [this.backbone];
  }

  forward(x: Tensor, options: ForwardOptions = {}): SegmentationOutput {
    const wantAux = (options.aux ?? this.training) && this.aux_classifier !== null;
    return torch.tidy(() => {
      const input = this.prepareInput(x);
      const [height, width] = [input.shape[2], input.shape[3]];
      const feats = this.backbone.forwardFeatures(input, wantAux ? ['layer3', 'layer4'] : ['layer4']);
      const { features, logits } = this.runClassifier(feats.layer4);
      feats.layer4.dispose();
      const out: SegmentationOutput = { logits: upsampleTo(logits, height, width), features };
      if (wantAux) out.aux = [upsampleTo(this.aux_classifier!.forward(feats.layer3!), height, width)];
      return out;
    });
  }
}

function backboneFor(config: ResolvedFCNConfig | ResolvedDeepLabV3Config): ResNet {
  return resnet(config.backbone, {
    numClasses: null,
    replaceStrideWithDilation: dilationForOutputStride(config.outputStride),
    inChannels: config.inChannels,
  });
}

/** torchvision's FCN (fcn_resnet50/101): FCNHead on layer4, optional FCNHead aux on layer3. */
export class FCN extends SimpleSegmentationModel {
  readonly classifier: FCNHead;
  readonly featureChannels: number;

  constructor(readonly config: ResolvedFCNConfig, readonly numClasses: number) {
    const backbone = backboneFor(config);
    super(backbone, config.aux ? new FCNHead(backbone.channels[2], numClasses) : null, config.dropout);
    this.classifier = new FCNHead(backbone.channels[3], numClasses);
    this.featureChannels = this.classifier.channels;
    this.registerHeads(this.classifier);
  }

  protected runClassifier(x: Tensor): { features: Tensor; logits: Tensor } {
    return this.classifier.forwardHead(x, this.dropout);
  }
}

/** torchvision's DeepLabV3 (deeplabv3_resnet50/101): DeepLabHead (ASPP) on layer4, optional FCNHead aux. */
export class DeepLabV3 extends SimpleSegmentationModel {
  readonly classifier: DeepLabHead;
  readonly featureChannels = 256;

  constructor(readonly config: ResolvedDeepLabV3Config, readonly numClasses: number) {
    const backbone = backboneFor(config);
    super(backbone, config.aux ? new FCNHead(backbone.channels[2], numClasses) : null, config.dropout);
    this.classifier = new DeepLabHead(backbone.channels[3], numClasses, config.atrousRates);
    this.registerHeads(this.classifier);
  }

  protected runClassifier(x: Tensor): { features: Tensor; logits: Tensor } {
    return this.classifier.forwardHead(x, this.dropout);
  }
}

/**
 * DeepLab v2 as in AdaptSegNet (DeeplabMulti) and ADVENT: the Caffe DeepLab ResNet (stride in the
 * first 1x1 conv, layer3 at dilation 2 and layer4 at dilation 4 in every block, output stride 8,
 * ceil-mode max pooling), an ASPP classifier summing 3x3 convs at rates 6/12/18/24 on layer4
 * (`layer6`) and, with multiLevel, another on layer3 (`layer5`) whose logits are `aux[0]`.
 */
export class DeepLabV2 extends SegmentationModel {
  readonly featureChannels: number;
  readonly layer5: ASPPClassifierV2 | null;
  readonly layer6: ASPPClassifierV2;
  readonly dropout: torch.nn.Dropout2d | null;
  /** The ResNet whose conv1, bn1, layer1..4 are registered directly on this model (not as a submodule). */
  private readonly trunk: ResNet;

  constructor(readonly config: ResolvedDeepLabV2Config, readonly numClasses: number) {
    super();
    const trunk = resnet(config.backbone, {
      numClasses: null,
      replaceStrideWithDilation: [false, true, true],
      inChannels: config.inChannels,
      variant: 'deeplab-v2',
    });
    this.trunk = trunk;
    this.registerModule('conv1', trunk.conv1);
    this.registerModule('bn1', trunk.bn1);
    this.registerModule('layer1', trunk.layer1);
    this.registerModule('layer2', trunk.layer2);
    this.registerModule('layer3', trunk.layer3);
    this.registerModule('layer4', trunk.layer4);
    this.layer5 = this.registerModule('layer5', config.multiLevel ? new ASPPClassifierV2(trunk.channels[2], config.rates, numClasses) : null);
    this.layer6 = this.registerModule('layer6', new ASPPClassifierV2(trunk.channels[3], config.rates, numClasses));
    this.dropout = this.registerModule('dropout', dropoutPoint(config.dropout));
    this.featureChannels = trunk.channels[3];
  }

  /** The ResNet trunk (its modules are this model's conv1, bn1, layer1..4). */
  get backbone(): ResNet {
    return this.trunk;
  }

  protected backboneModules(): torch.nn.Module[] {
    return [this.trunk.conv1, this.trunk.bn1, this.trunk.layer1, this.trunk.layer2, this.trunk.layer3, this.trunk.layer4];
  }

  forward(x: Tensor, options: ForwardOptions = {}): SegmentationOutput {
    const wantAux = (options.aux ?? this.training) && this.layer5 !== null;
    return torch.tidy(() => {
      const input = this.prepareInput(x);
      const [height, width] = [input.shape[2], input.shape[3]];
      const feats = this.trunk.forwardFeatures(input, wantAux ? ['layer3', 'layer4'] : ['layer4']);
      const features = feats.layer4;
      const logits = this.layer6.forward(this.dropout === null ? features : this.dropout.forward(features));
      const out: SegmentationOutput = { logits: upsampleTo(logits, height, width), features };
      if (wantAux) out.aux = [upsampleTo(this.layer5!.forward(feats.layer3!), height, width)];
      return out;
    });
  }
}
