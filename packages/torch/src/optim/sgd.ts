// SGD with momentum, dampening, Nesterov momentum, weight decay and maximize: PyTorch 1.13's
// _single_tensor_sgd, op for op, so results match torch.optim.SGD to the last bit on the same libtorch.
import type { Tensor } from '../tensor.js';
import { checkBoolean, checkNonNegative, Optimizer, optionError, type ParamGroup, type Params, type ParamState } from './optimizer.js';

export interface SGDOptions {
  /** Learning rate. Required, here or in every parameter group. */
  lr: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Dampening for momentum (default 0). */
  dampening: number;
  /** L2 penalty, added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum (default false); needs momentum > 0 and dampening 0. */
  nesterov: boolean;
  /** Maximise the objective instead of minimising it (default false). */
  maximize: boolean;
}

/**
 * Stochastic gradient descent, as torch.optim.SGD:
 *   g = grad (negated if maximize) + weightDecay * p
 *   b = g on the first step, else momentum * b + (1 - dampening) * g      (if momentum != 0)
 *   g = g + momentum * b if nesterov, else b
 *   p = p - lr * g
 * State per parameter: `momentum_buffer` (when momentum != 0).
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, options: Partial<SGDOptions> = {}) {
    const defaults = {
      momentum: 0,
      dampening: 0,
      weightDecay: 0,
      nesterov: false,
      maximize: false,
      ...options,
    };
    checkOptionKeys('SGD', options, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize']);
    if (defaults.lr !== undefined) checkNonNegative('SGD', 'learning rate', defaults.lr);
    super('SGD', params, defaults);
  }

  protected validateOptions(o: SGDOptions, where: string): void {
    const op = `SGD (${where})`;
    checkNonNegative(op, 'learning rate', o.lr);
    checkNonNegative(op, 'momentum value', o.momentum);
    checkNonNegative(op, 'weight_decay value', o.weightDecay);
    if (typeof o.dampening !== 'number' || !Number.isFinite(o.dampening)) optionError(op, `Invalid dampening value: ${String(o.dampening)}`);
    checkBoolean(op, 'nesterov', o.nesterov);
    checkBoolean(op, 'maximize', o.maximize);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      optionError(op, `Nesterov momentum requires a momentum and zero dampening (momentum ${o.momentum}, dampening ${o.dampening})`);
    }
  }

  protected updateParam(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<SGDOptions>): void {
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    let dp = maximize ? grad.neg() : grad;
    if (weightDecay !== 0) dp = dp.add(param, weightDecay);
    if (momentum !== 0) {
      let buf = state.momentum_buffer as Tensor | undefined;
      if (buf === undefined) {
        buf = this.setState(state, 'momentum_buffer', dp.clone().detach());
      } else {
        buf.mul_(momentum).add_(dp, 1 - dampening);
      }
      dp = nesterov ? dp.add(buf, momentum) : buf;
    }
    param.add_(dp, -lr);
  }
}

/** Rejects option names the optimiser does not have (e.g. PyTorch's weight_decay for weightDecay). */
export function checkOptionKeys(op: string, options: object, known: string[]): void {
  if (options === null || typeof options !== 'object') optionError(op, `options must be an object, got ${String(options)}`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      const hint = known.includes(camel) ? ` (did you mean '${camel}'?)` : ` (known: ${known.join(', ')})`;
      optionError(op, `unknown option '${key}'${hint}`);
    }
  }
}
