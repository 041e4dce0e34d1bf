// torch.optim: optimisers and learning-rate schedules with PyTorch 1.13's update rules.
export {
  Optimizer,
  flattenOptimizerState,
  unflattenOptimizerState,
  type OptimizerOptions,
  type ParamGroup,
  type ParamGroupInput,
  type Params,
  type ParamState,
  type StateValue,
  type JsonValue,
  type OptimizerStateDict,
  type FlatOptimizerState,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export * as lrScheduler from './lr_scheduler.js';
export {
  LRScheduler,
  PolynomialLR,
  PolyLR,
  StepLR,
  MultiStepLR,
  CosineAnnealingLR,
  LinearLR,
  ConstantLR,
  ExponentialLR,
  LambdaLR,
  SequentialLR,
  withWarmup,
  type SchedulerOptions,
  type SchedulerStateDict,
  type PolynomialLROptions,
  type StepLROptions,
  type MultiStepLROptions,
  type CosineAnnealingLROptions,
  type LinearLROptions,
  type ConstantLROptions,
  type ExponentialLROptions,
  type WarmupOptions,
} from './lr_scheduler.js';
