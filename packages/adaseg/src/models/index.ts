// The models area: ResNet backbones with torchvision's keys, segmentation models (U-Net, FCN,
// DeepLabV3, DeepLabV2) with one output shape, a config union with buildModel, and weight loading.
export { SegmentationModel, upsampleTo, type SegmentationOutput, type ForwardOptions, type ParameterGroups, type DropoutLayer } from './base.js';
export {
  buildModel,
  resolveModelConfig,
  MODELS,
  type ModelEntry,
  type ModelCommonOptions,
  type Resolved,
  describeModel,
  DEFAULT_MODEL_CONFIG,
  MODEL_KINDS,
  ModelConfigError,
  type ModelConfig,
  type ModelKind,
  type ModelFor,
  type BackboneName,
  type UNetConfig,
  type FCNConfig,
  type DeepLabV3Config,
  type DeepLabV2Config,
  type ResolvedModelConfig,
  type ResolvedUNetConfig,
  type ResolvedFCNConfig,
  type ResolvedDeepLabV3Config,
  type ResolvedDeepLabV2Config,
} from './config.js';
export { UNet, UNetUp, doubleConv } from './unet.js';
export { FCN, DeepLabV3, DeepLabV2 } from './deeplab.js';
export { FCNHead, DeepLabHead, ASPP, ASPPConv, ASPPPooling, ASPPClassifierV2, runLayers, type HeadOutput } from './heads.js';
export {
  ResNet,
  BasicBlock,
  Bottleneck,
  resnet,
  resnet18,
  resnet50,
  resnet101,
  dilationForOutputStride,
  RESNET_SPECS,
  type ResNetOptions,
  type ResNetBuildOptions,
  type ResNetName,
  type ResNetDepth,
  type ResNetVariant,
  type ResNetFeatures,
  type ResNetLayerName,
} from './resnet.js';
export { loadWeights, saveWeights, formatLoadReport, CONVERT_SNIPPET, type LoadWeightsOptions, type LoadWeightsReport } from './weights.js';
