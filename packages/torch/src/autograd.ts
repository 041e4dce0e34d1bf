// Grad modes and functional gradients. Gradients come from libtorch's autograd engine.
import { native } from './native.js';
import { argError } from './errors.js';
import { checkTensor, Tensor } from './tensor.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.isGradEnabled();
  native.setGradEnabled(enabled);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Runs fn with gradient recording off (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with gradient recording on (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

export function setGradEnabled(enabled: boolean): void {
  native.setGradEnabled(enabled);
}

/**
 * Runs a synchronous fn in inference mode (torch.inference_mode): faster than noGrad, but its
 * tensors can never join autograd later. Use it for scoring and evaluation.
 */
export function inferenceMode<T>(fn: () => T): T {
  native.enterInferenceMode();
  try {
    const result = fn();
    if (result instanceof Promise) argError('inferenceMode', 'fn must be synchronous');
    return result;
  } finally {
    native.exitInferenceMode();
  }
}

export function isInferenceMode(): boolean {
  return native.isInferenceMode();
}

export interface GradOptions {
  gradOutputs?: (Tensor | null)[];
  retainGraph?: boolean;
  createGraph?: boolean;
  allowUnused?: boolean;
}

/** torch.autograd.grad: gradients of outputs with respect to inputs (null where unused). */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], options: GradOptions = {}): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  outs.forEach((t, i) => checkTensor('autograd.grad', `outputs[${i}]`, t));
  ins.forEach((t, i) => checkTensor('autograd.grad', `inputs[${i}]`, t));
  const gradOutputs = options.gradOutputs ?? outs.map(() => null);
  if (gradOutputs.length !== outs.length) argError('autograd.grad', `${outs.length} outputs but ${gradOutputs.length} gradOutputs`);
  const result = native.autogradGrad(
    outs.map((t) => t.native),
    ins.map((t) => t.native),
    gradOutputs.map((g) => (g === null ? null : g.native)),
    options.retainGraph,
    options.createGraph ?? false,
    options.allowUnused ?? false,
  );
  return result.map((g) => (g === null ? null : new Tensor(g)));
}

/** torch.autograd.backward for several roots at once. */
export function backward(tensors: Tensor[], gradTensors?: (Tensor | null)[], options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
  tensors.forEach((t, i) => checkTensor('backward', `tensors[${i}]`, t));
  const grads = gradTensors ?? tensors.map(() => null);
  if (grads.length !== tensors.length) argError('backward', `${tensors.length} tensors but ${grads.length} gradients`);
  native.backward(
    tensors.map((t) => t.native),
    grads.map((g) => (g === null ? null : g.native)),
    options.retainGraph ?? false,
    options.createGraph ?? false,
  );
}
