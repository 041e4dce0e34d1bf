// Loads the compiled addon. A failure names the file that was looked for, the libtorch the addon
// was built against, and what to install.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TorchError } from './errors.js';

export interface NativeTensor {
  dispose(): void;
  isDisposed(): boolean;
  shape(): number[];
  strides(): number[];
  dtype(): string;
  device(): string;
  numel(): number;
  defined(): boolean;
  isContiguous(memoryFormat?: string): boolean;
  requiresGrad(): boolean;
  setRequiresGrad(flag: boolean): void;
  grad(): NativeTensor | null;
  setGrad(grad: NativeTensor | null): void;
  isLeaf(): boolean;
  gradFnName(): string | null;
  toBuffer(): ArrayBuffer;
  item(): number | boolean;
  sameStorage(other: NativeTensor): boolean;
  sameTensor(other: NativeTensor): boolean;
}

export type NativeValue = NativeTensor | number | boolean | string | null | undefined | NativeValue[];

export interface NativeAddon {
  NativeTensor: abstract new () => NativeTensor;
  setErrorClass(cls: typeof TorchError): void;
  resolveOp(name: string, overload: string): number;
  opSchema(id: number): string;
  callOp(id: number, args: unknown[], kwargs?: Record<string, unknown>): NativeValue;
  fromBuffer(data: ArrayBufferView, shape: number[], dtype: string, device?: string): NativeTensor;
  backward(tensors: NativeTensor[], grads: (NativeTensor | null)[], retainGraph: boolean, createGraph: boolean): void;
  autogradGrad(
    outputs: NativeTensor[],
    inputs: NativeTensor[],
    gradOutputs: (NativeTensor | null)[],
    retainGraph: boolean | undefined,
    createGraph: boolean,
    allowUnused: boolean,
  ): (NativeTensor | null)[];
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  setGradEnabled(flag: boolean): void;
  isGradEnabled(): boolean;
  enterInferenceMode(): void;
  exitInferenceMode(): void;
  isInferenceMode(): boolean;
  memory(): { tensors: number; bytes: number; storages: number };
  cudaIsAvailable(): boolean;
  buildInfo(): { torchVersion: string; parallel: string; config: string; builtWithCuda: boolean; libtorchRecord: string };
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const addonPath = join(packageRoot, 'build', 'Release', 'torch_native.node');

function loadFailure(cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const recordPath = join(packageRoot, 'build', 'libtorch.json');
  let builtAgainst = 'unknown (build/libtorch.json is missing)';
  if (existsSync(recordPath)) {
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as { libtorchCpu: string; source: string };
    builtAgainst = `${record.libtorchCpu} (${record.source})`;
  }
  const hint = !existsSync(addonPath)
    ? 'the addon is not built: run the install command from the README (./setup.sh), or `npm run build:native -w @adaseg/torch`'
    : 'install libtorch with `apt-get install libtorch-dev libopenblas0-pthread`, or set LIBTORCH to an unpacked libtorch (cxx11 ABI) and rebuild';
  return new Error(
    `@adaseg/torch could not load its native addon ${addonPath}: ${reason}\n` +
      `  libtorch it was built against: ${builtAgainst}\n  fix: ${hint}`,
  );
}

function load(): NativeAddon {
  try {
    const require = createRequire(import.meta.url);
    const addon = require(addonPath) as NativeAddon;
    addon.setErrorClass(TorchError);
    return addon;
  } catch (cause) {
    throw loadFailure(cause);
  }
}

export const native: NativeAddon = load();
