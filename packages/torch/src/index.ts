// @adaseg/torch: a PyTorch-shaped TypeScript API over libtorch. Knows nothing of segmentation.
import { native } from './native.js';
import { argError } from './errors.js';

export { Tensor, where, type Scalar, type Device, type MemoryFormat, type NestedArray, type ToOptions } from './tensor.js';
export { TorchError } from './errors.js';
export { type DType, DTYPES, isFloating } from './dtype.js';
export * from './creation.js';
export { cat, stack, matmul, type Reduction, type Pair } from './functional.js';
export * as functional from './functional.js';
export * as autograd from './autograd.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export {
  SafetensorsError,
  saveSafetensors,
  saveSafetensorsSync,
  loadSafetensors,
  loadSafetensorsSync,
  readSafetensorsHeader,
  readSafetensorsHeaderSync,
  serializeSafetensors,
  deserializeSafetensors,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
  type SafetensorsDType,
  type LoadOptions as SafetensorsLoadOptions,
  type TensorDict,
} from './serialization.js';
export { noGrad, enableGrad, inferenceMode, isGradEnabled, setGradEnabled } from './autograd.js';
export { tidy, asyncScope, keep, dispose, memory, type MemoryInfo, emptyCache, cpuAllocatorStats, type CpuAllocatorStats } from './scope.js';
export { call as callOp, opSchema } from './dispatch.js';

export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) argError('setNumThreads', `threads must be a positive integer, got ${n}`);
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

export const cuda = {
  /** True when this libtorch build has CUDA and a device is present. */
  isAvailable(): boolean {
    return native.cudaIsAvailable();
  },
};

/** libtorch's version, its parallel settings and build configuration. */
export function buildInfo(): ReturnType<typeof native.buildInfo> {
  return native.buildInfo();
}
