// ResNet segmentation models. FCN and DeepLabV3 have torchvision's module trees (backbone.*,
// classifier.*, aux_classifier.*), so torchvision's fcn_resnet50 and deeplabv3_resnet50/101 state
// dicts load as they are. DeepLabV2 has AdaptSegNet's (conv1, bn1, layer1..4, layer5 = the layer3
// head, layer6 = the layer4 head), so DeepLab v2 / AdaptSegNet / ADVENT checkpoints load too.
import * as torch from '@adaseg/torch';
import { SegmentationModel, upsampleTo, type ForwardOptions, type SegmentationOutput } from './base.js';
import type { BackboneName, Checker, ModelCommonOptions, ModelEntry, Resolved } from './config.js';
import { ASPPClassifierV2, DeepLabHead, FCNHead } from './heads.js';
import { dilationForOutputStride, resnet, ResNet } from './resnet.js';

const { nn } = torch;
type Tensor = torch.Tensor;

export interface FCNConfig extends ModelCommonOptions {
  kind: 'fcn';
  /** Default 'resnet50' (torchvision's fcn_resnet50 keys); resnet101 matches fcn_resnet101. */
  backbone?: BackboneName;
  /** 8 (default, as torchvision), 16 or 32. */
  outputStride?: 8 | 16 | 32;
  /** FCNHead on layer3 (aux_classifier.*), its logits in `aux`. Default false. */
  aux?: boolean;
}

export interface DeepLabV3Config extends ModelCommonOptions {
  kind: 'deeplabv3';
  /** Default 'resnet50' (deeplabv3_resnet50 keys); resnet101 matches deeplabv3_resnet101. */
  backbone?: BackboneName;
  /** 8 (default, as torchvision) or 16. */
  outputStride?: 8 | 16;
  /** FCNHead on layer3 (aux_classifier.*), its logits in `aux`. Default false. */
  aux?: boolean;
  /** ASPP rates: default [12, 24, 36] at output stride 8 (torchvision), [6, 12, 18] at 16. */
  atrousRates?: [number, number, number];
}

export interface DeepLabV2Config extends ModelCommonOptions {
  kind: 'deeplabv2';
  /** Default 'resnet101' (as the literature); resnet50 for a lighter variant. */
  backbone?: 'resnet50' | 'resnet101';
  /** A second classifier on layer3 (layer5), its logits in `aux` (AdaptSegNet). Default true. */
  multiLevel?: boolean;
  /** Rates of the summed ASPP branches (default [6, 12, 18, 24]). */
  rates?: number[];
}

export type ResolvedFCNConfig = Resolved<FCNConfig>;
export type ResolvedDeepLabV3Config = Resolved<DeepLabV3Config>;
export type ResolvedDeepLabV2Config = Resolved<DeepLabV2Config>;

const BACKBONES: readonly BackboneName[] = ['resnet18', 'resnet50', 'resnet101'];

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

  /** The layer3 FCNHead (config.aux). */
  get hasAuxOutput(): boolean {
    return this.aux_classifier !== null;
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

  constructor(
    readonly config: ResolvedFCNConfig,
    readonly numClasses: number,
  ) {
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

  constructor(
    readonly config: ResolvedDeepLabV3Config,
    readonly numClasses: number,
  ) {
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

  constructor(
    readonly config: ResolvedDeepLabV2Config,
    readonly numClasses: number,
  ) {
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

  /** The layer3 classifier (config.multiLevel). */
  get hasAuxOutput(): boolean {
    return this.config.multiLevel;
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

/** Description parts of the torchvision-style models: backbone, output stride, aux head. */
function describeSimple(c: ResolvedFCNConfig | ResolvedDeepLabV3Config): string[] {
  return [c.backbone, `os ${c.outputStride}`, ...(c.aux ? ['aux'] : [])];
}

export const fcnModel: ModelEntry<FCNConfig, FCN> = {
  kind: 'fcn',
  keys: ['backbone', 'outputStride', 'aux'],
  parse: (c: Checker) => ({
    backbone: c.oneOf('backbone', 'resnet50', BACKBONES),
    outputStride: c.oneOf('outputStride', 8, [8, 16, 32] as const),
    aux: c.bool('aux', false),
  }),
  create: (config, numClasses) => new FCN(config, numClasses),
  describe: describeSimple,
};

export const deeplabv3Model: ModelEntry<DeepLabV3Config, DeepLabV3> = {
  kind: 'deeplabv3',
  keys: ['backbone', 'outputStride', 'aux', 'atrousRates'],
  parse(c: Checker) {
    const outputStride = c.oneOf('outputStride', 8, [8, 16] as const);
    return {
      backbone: c.oneOf('backbone', 'resnet50', BACKBONES),
      outputStride,
      aux: c.bool('aux', false),
      atrousRates: c.rates('atrousRates', outputStride === 8 ? [12, 24, 36] : [6, 12, 18], 3) as [number, number, number],
    };
  },
  create: (config, numClasses) => new DeepLabV3(config, numClasses),
  describe: describeSimple,
};

export const deeplabv2Model: ModelEntry<DeepLabV2Config, DeepLabV2> = {
  kind: 'deeplabv2',
  keys: ['backbone', 'multiLevel', 'rates'],
  parse: (c: Checker) => ({
    backbone: c.oneOf('backbone', 'resnet101', ['resnet50', 'resnet101'] as const),
    multiLevel: c.bool('multiLevel', true),
    rates: c.rates('rates', [6, 12, 18, 24]),
  }),
  create: (config, numClasses) => new DeepLabV2(config, numClasses),
  describe: (c) => [c.backbone, ...(c.multiLevel ? ['multi-level'] : [])],
};
