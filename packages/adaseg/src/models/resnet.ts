// ResNet-18/50/101 with torchvision's module tree, so that state dicts have torchvision's exact
// keys and shapes (conv1, bn1, layer1..4 of BasicBlock/Bottleneck with downsample.0/.1, fc) and
// converted torchvision/ImageNet weights load as they are. `replaceStrideWithDilation` trades the
// stride of layer2/3/4 for dilation as torchvision does (output stride 8 or 16).
//
// Two variants share those keys:
// - 'torchvision' (default): ResNet v1.5 (the stride of a Bottleneck on its 3x3 conv), the first
//   block of a dilated layer keeps the previous dilation, max pooling with floor.
// - 'deeplab-v2': the Caffe DeepLab ResNet of DeepLab v2 / AdaptSegNet / ADVENT: stride on the first
//   1x1 conv, every block of a dilated layer (the first included) uses the layer's dilation, max
//   pooling with ceil mode.
//
// Beyond torchvision: a BasicBlock (ResNet-18) accepts dilation (torchvision raises), so ResNet-18
// works at output stride 8 or 16; both 3x3 convs of the block take the block's dilation.
import * as torch from '@adaseg/torch';

const { nn } = torch;
type Tensor = torch.Tensor;

export type ResNetDepth = 18 | 50 | 101;
export type ResNetName = 'resnet18' | 'resnet50' | 'resnet101';
export type ResNetVariant = 'torchvision' | 'deeplab-v2';

export const RESNET_SPECS: Record<ResNetName, { block: 'basic' | 'bottleneck'; layers: [number, number, number, number] }> = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2] },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
  resnet101: { block: 'bottleneck', layers: [3, 4, 23, 3] },
};

export interface ResNetOptions {
  block: 'basic' | 'bottleneck';
  /** Blocks in layer1..layer4. */
  layers: [number, number, number, number];
  /** Classes of the fc layer (default 1000); null leaves out avgpool and fc (a segmentation backbone). */
  numClasses?: number | null;
  /** For layer2, layer3, layer4: replace the stride 2 by dilation. Default none. */
  replaceStrideWithDilation?: [boolean, boolean, boolean];
  /** Zero the last BN of each residual branch, as torchvision's zero_init_residual. Default false. */
  zeroInitResidual?: boolean;
  /** Input channels (default 3). Other values change conv1's shape. */
  inChannels?: number;
  /** Default 'torchvision'. */
  variant?: ResNetVariant;
}

function conv(inChannels: number, outChannels: number, kernelSize: number, stride = 1, dilation = 1): torch.nn.Conv2d {
  const padding = kernelSize === 3 ? dilation : 0;
  return new nn.Conv2d({ inChannels, outChannels, kernelSize, stride, padding, dilation, bias: false });
}

function bn(numFeatures: number): torch.nn.BatchNorm2d {
  return new nn.BatchNorm2d({ numFeatures });
}

// Blocks free each intermediate as soon as the next op has run (as PyTorch does by reference
// counting), which keeps eval-mode peak memory down; under autograd the graph keeps what it needs.
// Callers run them inside a scope (the models' forward is a tidy), so an exception leaks nothing.

/** bn(conv(x)), freeing the conv output. */
function convBn(conv: torch.nn.Conv2d, norm: torch.nn.BatchNorm2d, x: Tensor): Tensor {
  const c = conv.forward(x);
  const y = norm.forward(c);
  c.dispose();
  return y;
}

/** Adds the shortcut to the branch output in place and applies ReLU in place, as torchvision. */
function residual(out: Tensor, x: Tensor, downsample: torch.nn.Sequential | null): Tensor {
  if (downsample === null) return out.add_(x).relu_();
  const identity = downsample.forward(x);
  out.add_(identity).relu_();
  identity.dispose();
  return out;
}

export class BasicBlock extends torch.nn.Module {
  static readonly expansion = 1;
  readonly conv1: torch.nn.Conv2d;
  readonly bn1: torch.nn.BatchNorm2d;
  readonly conv2: torch.nn.Conv2d;
  readonly bn2: torch.nn.BatchNorm2d;
  readonly downsample: torch.nn.Sequential | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: torch.nn.Sequential | null = null, dilation = 1) {
    super();
    this.conv1 = this.registerModule('conv1', conv(inplanes, planes, 3, stride, dilation));
    this.bn1 = this.registerModule('bn1', bn(planes));
    this.conv2 = this.registerModule('conv2', conv(planes, planes, 3, 1, dilation));
    this.bn2 = this.registerModule('bn2', bn(planes));
    this.downsample = this.registerModule('downsample', downsample);
  }

  forward(x: Tensor): Tensor {
    const a = convBn(this.conv1, this.bn1, x).relu_();
    const out = convBn(this.conv2, this.bn2, a);
    a.dispose();
    return residual(out, x, this.downsample);
  }
}

export class Bottleneck extends torch.nn.Module {
  static readonly expansion = 4;
  readonly conv1: torch.nn.Conv2d;
  readonly bn1: torch.nn.BatchNorm2d;
  readonly conv2: torch.nn.Conv2d;
  readonly bn2: torch.nn.BatchNorm2d;
  readonly conv3: torch.nn.Conv2d;
  readonly bn3: torch.nn.BatchNorm2d;
  readonly downsample: torch.nn.Sequential | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: torch.nn.Sequential | null = null, dilation = 1, strideOnConv1 = false) {
    super();
    const width = planes;
    this.conv1 = this.registerModule('conv1', conv(inplanes, width, 1, strideOnConv1 ? stride : 1));
    this.bn1 = this.registerModule('bn1', bn(width));
    this.conv2 = this.registerModule('conv2', conv(width, width, 3, strideOnConv1 ? 1 : stride, dilation));
    this.bn2 = this.registerModule('bn2', bn(width));
    this.conv3 = this.registerModule('conv3', conv(width, planes * Bottleneck.expansion, 1));
    this.bn3 = this.registerModule('bn3', bn(planes * Bottleneck.expansion));
    this.downsample = this.registerModule('downsample', downsample);
  }

  forward(x: Tensor): Tensor {
    const a = convBn(this.conv1, this.bn1, x).relu_();
    const b = convBn(this.conv2, this.bn2, a).relu_();
    a.dispose();
    const out = convBn(this.conv3, this.bn3, b);
    b.dispose();
    return residual(out, x, this.downsample);
  }
}

/** The feature maps of a ResNet: layer1 (stride 4) to layer4 (stride 8, 16 or 32). */
export interface ResNetFeatures {
  layer1?: Tensor;
  layer2?: Tensor;
  layer3?: Tensor;
  layer4: Tensor;
}

export type ResNetLayerName = 'layer1' | 'layer2' | 'layer3' | 'layer4';

export class ResNet extends torch.nn.Module {
  readonly options: Required<ResNetOptions>;
  /** Channels out of layer1..layer4. */
  readonly channels: [number, number, number, number];
  /** Output stride of layer4 (8, 16 or 32). */
  readonly outputStride: number;
  readonly conv1: torch.nn.Conv2d;
  readonly bn1: torch.nn.BatchNorm2d;
  readonly layer1: torch.nn.Sequential;
  readonly layer2: torch.nn.Sequential;
  readonly layer3: torch.nn.Sequential;
  readonly layer4: torch.nn.Sequential;
  readonly fc: torch.nn.Linear | null;
  private inplanes = 64;
  private dilation = 1;

  constructor(options: ResNetOptions) {
    super();
    const o: Required<ResNetOptions> = {
      numClasses: 1000,
      replaceStrideWithDilation: [false, false, false],
      zeroInitResidual: false,
      inChannels: 3,
      variant: 'torchvision',
      ...options,
    };
    if (o.block !== 'basic' && o.block !== 'bottleneck') throw new Error(`ResNet: block must be 'basic' or 'bottleneck', got '${String(o.block)}'`);
    if (!Array.isArray(o.layers) || o.layers.length !== 4 || !o.layers.every((n) => Number.isInteger(n) && n >= 1)) {
      throw new Error(`ResNet: layers must be 4 positive integers, got ${JSON.stringify(o.layers)}`);
    }
    if (!Array.isArray(o.replaceStrideWithDilation) || o.replaceStrideWithDilation.length !== 3) {
      throw new Error(`ResNet: replaceStrideWithDilation must be 3 booleans, got ${JSON.stringify(o.replaceStrideWithDilation)}`);
    }
    this.options = o;
    const expansion = o.block === 'basic' ? BasicBlock.expansion : Bottleneck.expansion;
    this.conv1 = this.registerModule('conv1', new nn.Conv2d({ inChannels: o.inChannels, outChannels: 64, kernelSize: 7, stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', bn(64));
    this.layer1 = this.registerModule('layer1', this.makeLayer(64, o.layers[0], 1, false));
    this.layer2 = this.registerModule('layer2', this.makeLayer(128, o.layers[1], 2, o.replaceStrideWithDilation[0]));
    this.layer3 = this.registerModule('layer3', this.makeLayer(256, o.layers[2], 2, o.replaceStrideWithDilation[1]));
    this.layer4 = this.registerModule('layer4', this.makeLayer(512, o.layers[3], 2, o.replaceStrideWithDilation[2]));
    this.outputStride = 32 / this.dilation;
    this.channels = [64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion];
    this.fc = this.registerModule('fc', o.numClasses === null ? null : new nn.Linear({ inFeatures: 512 * expansion, outFeatures: o.numClasses }));

    // torchvision's initialisation.
    for (const m of this.modules()) {
      if (m instanceof nn.Conv2d) nn.init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
      else if (m instanceof nn.BatchNorm2d) {
        nn.init.ones_(m.weight!);
        nn.init.zeros_(m.bias!);
      }
    }
    if (o.zeroInitResidual) {
      for (const m of this.modules()) {
        if (m instanceof Bottleneck) nn.init.zeros_(m.bn3.weight!);
        else if (m instanceof BasicBlock) nn.init.zeros_(m.bn2.weight!);
      }
    }
  }

  private makeLayer(planes: number, blocks: number, stride: number, dilate: boolean): torch.nn.Sequential {
    const o = this.options;
    const expansion = o.block === 'basic' ? BasicBlock.expansion : Bottleneck.expansion;
    const previousDilation = this.dilation;
    if (dilate) {
      this.dilation *= stride;
      stride = 1;
    }
    let downsample: torch.nn.Sequential | null = null;
    if (stride !== 1 || this.inplanes !== planes * expansion) {
      downsample = new nn.Sequential(conv(this.inplanes, planes * expansion, 1, stride), bn(planes * expansion));
    }
    const deeplab = o.variant === 'deeplab-v2';
    const firstDilation = deeplab ? this.dilation : previousDilation;
    const make = (inplanes: number, s: number, ds: torch.nn.Sequential | null, d: number): torch.nn.Module =>
      o.block === 'basic' ? new BasicBlock(inplanes, planes, s, ds, d) : new Bottleneck(inplanes, planes, s, ds, d, deeplab);
    const layers = [make(this.inplanes, stride, downsample, firstDilation)];
    this.inplanes = planes * expansion;
    for (let i = 1; i < blocks; i++) layers.push(make(this.inplanes, 1, null, this.dilation));
    return new nn.Sequential(...(layers as torch.nn.Layer[]));
  }

  /** conv1, bn1, relu, maxpool: the stride-4 stem. */
  stem(x: Tensor): Tensor {
    const y = convBn(this.conv1, this.bn1, x).relu_();
    const out = torch.functional.maxPool2d(y, 3, { stride: 2, padding: 1, ceilMode: this.options.variant === 'deeplab-v2' });
    y.dispose();
    return out;
  }

  /**
   * The outputs of the layers asked for (layer4 always; default layer3 and layer4). Intermediates
   * not asked for are freed as soon as the next layer has run.
   */
  forwardFeatures(x: Tensor, returnLayers: ResNetLayerName[] = ['layer3', 'layer4']): ResNetFeatures {
    return torch.tidy(() => this.features(x, returnLayers));
  }

  private features(x: Tensor, returnLayers: ResNetLayerName[]): ResNetFeatures {
    const want = new Set<ResNetLayerName>(returnLayers);
    const out: Partial<Record<ResNetLayerName, Tensor>> = {};
    let y = this.stem(x);
    const layers: [ResNetLayerName, torch.nn.Sequential][] = [
      ['layer1', this.layer1],
      ['layer2', this.layer2],
      ['layer3', this.layer3],
      ['layer4', this.layer4],
    ];
    for (const [name, layer] of layers) {
      const next = layer.forward(y);
      if (!Object.values(out).includes(y)) y.dispose();
      y = next;
      if (want.has(name) || name === 'layer4') out[name] = y;
    }
    return out as ResNetFeatures;
  }

  /** Class logits [N, numClasses] with the fc layer; the layer4 features without it. */
  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const { layer4 } = this.forwardFeatures(x, ['layer4']);
      if (this.fc === null) return layer4;
      const pooled = torch.functional.adaptiveAvgPool2d(layer4, 1).flatten(1);
      layer4.dispose();
      return this.fc.forward(pooled);
    });
  }
}

export interface ResNetBuildOptions extends Omit<ResNetOptions, 'block' | 'layers'> {}

/** torchvision.models.resnet18/50/101 (random weights; load converted ones with loadWeights). */
export function resnet(name: ResNetName, options: ResNetBuildOptions = {}): ResNet {
  const spec = RESNET_SPECS[name];
  if (spec === undefined) throw new Error(`resnet: unknown ResNet '${String(name)}' (expected ${Object.keys(RESNET_SPECS).join(', ')})`);
  return new ResNet({ ...spec, ...options });
}

export const resnet18 = (options: ResNetBuildOptions = {}): ResNet => resnet('resnet18', options);
export const resnet50 = (options: ResNetBuildOptions = {}): ResNet => resnet('resnet50', options);
export const resnet101 = (options: ResNetBuildOptions = {}): ResNet => resnet('resnet101', options);

/** replaceStrideWithDilation for an output stride of 8, 16 or 32, as torchvision's segmentation models use. */
export function dilationForOutputStride(outputStride: 8 | 16 | 32): [boolean, boolean, boolean] {
  switch (outputStride) {
    case 8:
      return [false, true, true];
    case 16:
      return [false, false, true];
    case 32:
      return [false, false, false];
    default:
      throw new Error(`outputStride must be 8, 16 or 32, got ${String(outputStride)}`);
  }
}
