// Loads the compiled addon. A failure names the file that was looked for, the libtorch the addon
// was built against, and what to install.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
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

/** The caching CPU allocator's figures (native/allocator.cc); all 0 when it is disabled. */
export interface CpuAllocatorStats {
  /** False when ADASEG_CPU_CACHE_BYTES=0 (libtorch's default allocator is then used as is). */
  enabled: boolean;
  /** Most bytes kept in the cache (ADASEG_CPU_CACHE_BYTES, default max(256 MiB, RAM / 8)). */
  limitBytes: number;
  /** Smaller blocks are not cached: they go to libtorch's default allocator. */
  minBlockBytes: number;
  /** Bytes (and blocks) freed by tensors and kept for reuse. */
  cachedBytes: number;
  cachedBlocks: number;
  /** Bytes (and blocks) of cacheable size held by live storages, rounded up to their size class. */
  inUseBytes: number;
  inUseBlocks: number;
  /** Requests of cacheable size served from the cache / by mapping new memory. */
  hits: number;
  misses: number;
  /** Cached blocks given back to the system to keep the cache under its limit. */
  evictions: number;
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
  getRngState(): NativeTensor;
  setRngState(state: NativeTensor): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  setGradEnabled(flag: boolean): void;
  isGradEnabled(): boolean;
  enterInferenceMode(): void;
  exitInferenceMode(): void;
  isInferenceMode(): boolean;
  memory(): { tensors: number; bytes: number; storages: number };
  emptyCache(): void;
  cpuAllocatorStats(): CpuAllocatorStats;
  cudaIsAvailable(): boolean;
  buildInfo(): { torchVersion: string; parallel: string; config: string; builtWithCuda: boolean; libtorchRecord: string };
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
// ADASEG_TORCH_ADDON points at another build of the addon (e.g. one linked against a CUDA libtorch).
const addonPath = process.env.ADASEG_TORCH_ADDON ?? join(packageRoot, 'build', 'Release', 'torch_native.node');

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
    `@adaseg/torch could not load its native addon ${addonPath}: ${reason}\n` + `  libtorch it was built against: ${builtAgainst}\n  fix: ${hint}`,
  );
}

/**
 * OpenBLAS 0.3.21 (Debian bookworm) does not recognise recent Xeons (Sapphire Rapids here) and
 * falls back to its Prescott SSE3 kernels: a 1024² matmul takes 40-60 ms instead of 9 ms
 * (BENCHMARKS.md). Unless OPENBLAS_CORETYPE is already set (by the user or the machine, which
 * wins), name the kernel family the CPU supports. It must be set before libblas loads, i.e.
 * before the addon does. ADASEG_BLAS_CORETYPE=off leaves OpenBLAS to detect on its own.
 */
function chooseBlasKernels(): void {
  if (process.env.OPENBLAS_CORETYPE !== undefined || process.env.ADASEG_BLAS_CORETYPE === 'off') return;
  if (process.env.ADASEG_BLAS_CORETYPE) {
    process.env.OPENBLAS_CORETYPE = process.env.ADASEG_BLAS_CORETYPE;
    return;
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') return;
  let flags: Set<string>;
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    flags = new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return;
  }
  if (['avx512f', 'avx512dq', 'avx512bw', 'avx512vl'].every((f) => flags.has(f))) process.env.OPENBLAS_CORETYPE = 'SkylakeX';
  else if (flags.has('avx2') && flags.has('fma')) process.env.OPENBLAS_CORETYPE = 'Haswell';
}

/**
 * libtorch here starts with one intra-op thread on a 2-core machine; using every core made a
 * conv2d forward+backward 1.6x faster (BENCHMARKS.md). OMP_NUM_THREADS, when set, wins, and
 * setNumThreads changes it at any time.
 */
function chooseThreads(addon: NativeAddon): void {
  if (process.env.OMP_NUM_THREADS !== undefined) return;
  addon.setNumThreads(Math.max(1, availableParallelism()));
}

/**
 * libgomp's idle threads spin for a long while at every barrier. When anything else wants the
 * cores (the data loader's workers, another process) the spinning starves the thread that still
 * has work: a U-Net step at 2 threads went from 1.6 s to 3.5-6.5 s under load, slower than 1
 * thread (BENCHMARKS.md). Sleeping at once (GOMP_SPINCOUNT=0) keeps 2 threads the fastest, loaded or
 * not. libgomp reads this when it loads, i.e. with the addon. GOMP_SPINCOUNT or OMP_WAIT_POLICY,
 * when set, win.
 */
function chooseOpenMpWaiting(): void {
  if (process.env.GOMP_SPINCOUNT === undefined && process.env.OMP_WAIT_POLICY === undefined) process.env.GOMP_SPINCOUNT = '0';
}

/**
 * The addon reads ADASEG_CPU_CACHE_BYTES when it loads (native/allocator.cc); a bad value is
 * refused here rather than silently replaced by the default there.
 */
function checkCpuCacheSetting(): void {
  const value = process.env.ADASEG_CPU_CACHE_BYTES;
  if (value !== undefined && value !== '' && !/^\d+$/.test(value)) {
    throw new Error(`@adaseg/torch: ADASEG_CPU_CACHE_BYTES must be a whole number of bytes (0 disables the CPU allocator cache), got '${value}'`);
  }
}

function load(): NativeAddon {
  checkCpuCacheSetting();
  chooseBlasKernels();
  chooseOpenMpWaiting();
  try {
    const require = createRequire(import.meta.url);
    const addon = require(addonPath) as NativeAddon;
    addon.setErrorClass(TorchError);
    chooseThreads(addon);
    return addon;
  } catch (cause) {
    throw loadFailure(cause);
  }
}

export const native: NativeAddon = load();
