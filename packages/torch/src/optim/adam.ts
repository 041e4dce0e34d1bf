// Adam and AdamW: PyTorch 1.13's _single_tensor_adam / _single_tensor_adamw (the default,
// non-capturable path), op for op, so results match torch.optim.Adam/AdamW on the same libtorch.
import type { Tensor } from '../tensor.js';
import { zerosLike } from '../creation.js';
import { checkBoolean, checkNonNegative, Optimizer, optionError, type ParamGroup, type Params, type ParamState } from './optimizer.js';
import { checkOptionKeys } from './sgd.js';

export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Decay rates of the first and second moment averages, each in [0, 1) (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay rate (default 1e-2). */
  weightDecay: number;
  /** The AMSGrad variant: normalise by the running maximum of the second moment (default false). */
  amsgrad: boolean;
  /** Maximise the objective instead of minimising it (default false). */
  maximize: boolean;
}

const KEYS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'];

/**
 * Adam, as torch.optim.Adam (L2 weight decay added to the gradient). State per parameter:
 * `step` (a number; PyTorch 1.13 keeps a 0-d float tensor, accepted by loadStateDict), `exp_avg`,
 * `exp_avg_sq`, and `max_exp_avg_sq` with amsgrad.
 */
export class Adam extends Optimizer<AdamOptions> {
  /** Name in messages and toString. */
  static readonly displayName: string = 'Adam';
  /** Default weightDecay. */
  static readonly defaultWeightDecay: number = 0;
  /** Weight decay applied to the parameter (AdamW) instead of added to the gradient (Adam). */
  static readonly decoupledWeightDecay: boolean = false;
  private readonly decoupled: boolean;

  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    const cls = new.target as typeof Adam;
    super(cls.displayName, params, Adam.defaultsFor(cls.displayName, options, cls.defaultWeightDecay));
    this.decoupled = cls.decoupledWeightDecay;
  }

  private static defaultsFor(name: string, options: Partial<AdamOptions>, weightDecay: number): AdamOptions {
    checkOptionKeys(name, options, KEYS);
    const defaults: AdamOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay, amsgrad: false, maximize: false };
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (defaults as unknown as Record<string, unknown>)[k] = v;
    if (Array.isArray(defaults.betas)) defaults.betas = [...defaults.betas] as [number, number];
    return defaults;
  }

  protected validateOptions(o: AdamOptions, where: string): void {
    const op = `${this.name} (${where})`;
    checkNonNegative(op, 'learning rate', o.lr);
    checkNonNegative(op, 'epsilon value', o.eps);
    if (!Array.isArray(o.betas) || o.betas.length !== 2) optionError(op, `betas must be a pair [beta1, beta2], got ${JSON.stringify(o.betas)}`);
    for (const i of [0, 1]) {
      const b = o.betas[i];
      if (typeof b !== 'number' || !(b >= 0 && b < 1)) optionError(op, `Invalid beta parameter at index ${i}: ${String(b)} (must be in [0, 1))`);
    }
    checkNonNegative(op, 'weight_decay value', o.weightDecay);
    checkBoolean(op, 'amsgrad', o.amsgrad);
    checkBoolean(op, 'maximize', o.maximize);
  }

  protected updateParam(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<AdamOptions>): void {
    const { lr, eps, weightDecay, amsgrad, maximize } = group;
    const [beta1, beta2] = group.betas;
    if (state.step === undefined) {
      state.step = 0;
      this.setState(state, 'exp_avg', zerosLike(param));
      this.setState(state, 'exp_avg_sq', zerosLike(param));
      if (amsgrad) this.setState(state, 'max_exp_avg_sq', zerosLike(param));
    }
    // amsgrad switched on later (e.g. by loadStateDict): start its maximum from zeros, as at step 0.
    if (amsgrad && state.max_exp_avg_sq === undefined) this.setState(state, 'max_exp_avg_sq', zerosLike(param));
    const expAvg = state.exp_avg as Tensor;
    const expAvgSq = state.exp_avg_sq as Tensor;

    let g = maximize ? grad.neg() : grad;
    const step = (state.step as number) + 1;
    state.step = step;

    if (this.decoupled) param.mul_(1 - lr * weightDecay);
    else if (weightDecay !== 0) g = g.add(param, weightDecay);

    expAvg.mul_(beta1).add_(g, 1 - beta1);
    expAvgSq.mul_(beta2).addcmul_(g, g, 1 - beta2);

    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2 = 1 - beta2 ** step;
    const stepSize = lr / biasCorrection1;
    const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);

    let denom: Tensor;
    if (amsgrad) {
      const maxExpAvgSq = state.max_exp_avg_sq as Tensor;
      maxExpAvgSq.maximum_(expAvgSq);
      denom = maxExpAvgSq.sqrt().div(biasCorrection2Sqrt).add_(eps);
    } else {
      denom = expAvgSq.sqrt().div(biasCorrection2Sqrt).add_(eps);
    }
    param.addcdiv_(expAvg, denom, -stepSize);
  }
}

/**
 * AdamW, as torch.optim.AdamW: Adam with decoupled weight decay, p = p * (1 - lr * weightDecay)
 * before the Adam update. weightDecay defaults to 1e-2.
 */
export class AdamW extends Adam {
  static override readonly displayName: string = 'AdamW';
  static override readonly defaultWeightDecay: number = 1e-2;
  static override readonly decoupledWeightDecay: boolean = true;
}
