// Optimizer: the base of torch.optim's optimisers, after PyTorch 1.13's torch/optim/optimizer.py.
// Parameters live in groups whose options override the optimiser's defaults; per-parameter state
// (momentum buffers, moments) is created lazily on a parameter's first step with a gradient and is
// owned by the optimiser: it is kept out of tidy scopes and freed by dispose() or when replaced.
import { enableGrad, noGrad } from '../autograd.js';
import { keep, tidy } from '../scope.js';
import { Tensor } from '../tensor.js';

/** Options every optimiser has. */
export interface OptimizerOptions {
  lr: number;
}

/** A parameter group as the optimiser holds it: the defaults overridden by the group's options. */
export type ParamGroup<O extends OptimizerOptions = OptimizerOptions> = O & {
  params: Tensor[];
  /** The lr a schedule started from (PyTorch's 'initial_lr'), set by the first schedule attached. */
  initialLr?: number;
};

/** A parameter group as given to an optimiser: parameters and any options to override. */
export type ParamGroupInput<O extends OptimizerOptions = OptimizerOptions> = Partial<O> & {
  params: Iterable<Tensor> | Tensor;
  initialLr?: number;
};

/** What an optimiser optimises: parameters (one group), or parameter groups. */
export type Params<O extends OptimizerOptions = OptimizerOptions> = Iterable<Tensor> | ParamGroupInput<O>[];

/** One value of per-parameter state: a tensor owned by the optimiser, or a number (Adam's step). */
export type StateValue = Tensor | number;
export type ParamState = Record<string, StateValue>;

/** A JSON value (param group options in state dicts). */
export type JsonValue = number | boolean | string | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * An optimiser's state in PyTorch's layout. `state` is keyed by parameter index, numbered across
 * the groups in order; `param_groups` holds each group's options under PyTorch's names
 * (snake_case: weight_decay, initial_lr) with the indices of its parameters.
 */
export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  param_groups: ({ params: number[] } & Record<string, JsonValue>)[];
}

/** Options PyTorch's state dicts carry that have no meaning here: accepted and ignored on load. */
const PYTORCH_ONLY_OPTIONS = new Set(['foreach', 'capturable', 'differentiable', 'fused']);

function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function camelCase(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Throws a RangeError naming the optimiser, for a bad option value (PyTorch's ValueError). */
export function optionError(op: string, message: string): never {
  const err = new RangeError(`${op}: ${message}`) as RangeError & { op: string };
  err.op = op;
  throw err;
}

function typeError(op: string, message: string): never {
  const err = new TypeError(`${op}: ${message}`) as TypeError & { op: string };
  err.op = op;
  throw err;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !(value instanceof Tensor) && !Array.isArray(value);
}

export abstract class Optimizer<O extends OptimizerOptions = OptimizerOptions> {
  /** The options groups fall back on (lr may be missing for SGD when every group names its own). */
  readonly defaults: Readonly<Omit<O, 'lr'> & { lr?: number }>;
  /** The parameter groups, in order. Their options (lr above all) may be changed between steps. */
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state, created on a parameter's first step. Owned by the optimiser. */
  readonly state = new Map<Tensor, ParamState>();
  /** Name used in error messages ('SGD', 'Adam', ...). */
  protected readonly name: string;
  private disposed = false;

  protected constructor(name: string, params: Params<O>, defaults: Omit<O, 'lr'> & { lr?: number }) {
    this.name = name;
    this.defaults = Object.freeze({ ...defaults });
    if (params instanceof Tensor) {
      typeError(name, 'params must be an iterable of Tensors or of parameter groups, got a single Tensor');
    }
    if (params === null || typeof params !== 'object' || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      typeError(name, `params must be an iterable of Tensors or of parameter groups, got ${params === null ? 'null' : typeof params}`);
    }
    const list = Array.from(params as Iterable<Tensor | ParamGroupInput<O>>);
    if (list.length === 0) optionError(name, 'optimizer got an empty parameter list');
    const groups: ParamGroupInput<O>[] =
      list[0] instanceof Tensor ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<O>] : (list as ParamGroupInput<O>[]);
    for (const group of groups) this.addParamGroup(group);
  }

  /** Checks one group's merged options; subclasses throw optionError for bad values. */
  protected abstract validateOptions(options: O, where: string): void;

  /**
   * Updates one parameter from its gradient. Runs under noGrad inside a tidy scope: temporaries
   * are freed afterwards; state tensors must be stored with setState (which keeps them).
   */
  protected abstract updateParam(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<O>): void;

  /** Adds a group (PyTorch's add_param_group), e.g. to unfreeze layers during fine-tuning. */
  addParamGroup(group: ParamGroupInput<O>): void {
    const index = this.paramGroups.length;
    const where = `parameter group ${index}`;
    if (!isPlainObject(group)) typeError(this.name, `${where} must be an object with a 'params' field`);
    if (!('params' in group)) typeError(this.name, `${where} has no 'params'`);
    const raw = group.params;
    if (raw instanceof Set) typeError(this.name, `${where}: parameters must be in an ordered collection (an array), not a Set`);
    let params: Tensor[];
    if (raw instanceof Tensor) params = [raw];
    else if (raw !== null && typeof raw === 'object' && typeof (raw as Iterable<Tensor>)[Symbol.iterator] === 'function') params = Array.from(raw);
    else typeError(this.name, `${where}: params must be a Tensor or an iterable of Tensors`);
    if (params.length === 0) optionError(this.name, `${where} has no parameters`);
    for (const [i, p] of params.entries()) {
      if (!(p instanceof Tensor)) typeError(this.name, `optimizer can only optimize Tensors, but ${where} params[${i}] is ${p === null ? 'null' : typeof p}`);
      if (p.isDisposed) optionError(this.name, `${where} params[${i}] is disposed`);
      if (!p.isLeaf) optionError(this.name, `can't optimize a non-leaf Tensor (${where} params[${i}])`);
    }
    if (new Set(params).size !== params.length) optionError(this.name, `${where} contains a parameter more than once`);
    for (const other of this.paramGroups) {
      for (const p of params) if (other.params.includes(p)) optionError(this.name, 'some parameters appear in more than one parameter group');
    }
    const known = new Set([...Object.keys(this.defaults), 'lr', 'params', 'initialLr']);
    for (const key of Object.keys(group)) {
      if (!known.has(key)) {
        const hint = known.has(camelCase(key)) ? ` (did you mean '${camelCase(key)}'?)` : '';
        optionError(this.name, `${where} has an unknown option '${key}'${hint}`);
      }
    }
    const merged = { ...this.defaults } as Record<string, unknown>;
    for (const [k, v] of Object.entries(group)) if (k !== 'params' && v !== undefined) merged[k] = v;
    if (merged.lr === undefined) optionError(this.name, `${where} didn't specify a value of required optimization parameter lr`);
    this.validateOptions(merged as unknown as O, where);
    if (merged.initialLr !== undefined && (typeof merged.initialLr !== 'number' || !(merged.initialLr >= 0))) {
      optionError(this.name, `${where}: invalid initialLr: ${String(merged.initialLr)}`);
    }
    merged.params = params;
    this.paramGroups.push(merged as unknown as ParamGroup<O>);
  }

  /**
   * Clears the gradients of all parameters: to null (the default, as PyTorch 2; PyTorch 1.13's
   * default was false), or, with setToNone false, zeroed in place.
   */
  zeroGrad(setToNone = true): void {
    tidy(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          if (setToNone) {
            p.grad = null;
            continue;
          }
          const g = p.grad;
          if (g === null) continue;
          if (g.gradFn !== null) g.detach_();
          else g.requiresGrad_(false);
          g.zero_();
        }
      }
    });
  }

  /**
   * One optimisation step over every parameter that has a gradient (parameters whose grad is null
   * are skipped and their state left as is). A closure, if given, runs first with gradients
   * enabled (to recompute the loss) and its result is returned.
   */
  step<T = undefined>(closure?: () => T): T | undefined {
    this.checkAlive('step');
    let loss: T | undefined;
    if (closure !== undefined) loss = enableGrad(closure);
    noGrad(() =>
      tidy(() => {
        for (const group of this.paramGroups) {
          for (const p of group.params) {
            const g = p.grad;
            if (g === null) continue;
            let state = this.state.get(p);
            if (state === undefined) {
              state = {};
              this.state.set(p, state);
            }
            this.updateParam(p, g, state, group);
          }
        }
      }),
    );
    return loss;
  }

  /** Stores a tensor in a parameter's state: kept out of tidy scopes, the old value disposed. */
  protected setState(state: ParamState, key: string, value: Tensor): Tensor {
    const old = state[key];
    keep(value);
    if (old instanceof Tensor && old !== value) old.dispose();
    state[key] = value;
    return value;
  }

  /** Parameter indices as state dicts number them: across groups, in order. */
  private indexParams(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /**
   * The optimiser's state in PyTorch's layout. State tensors are copies (a snapshot that further
   * steps do not change): they join the current scope, and the caller owns them.
   */
  stateDict(): OptimizerStateDict {
    this.checkAlive('stateDict');
    const params = this.indexParams();
    const state: Record<number, ParamState> = {};
    noGrad(() => {
      params.forEach((p, index) => {
        const s = this.state.get(p);
        if (s === undefined) return;
        const copy: ParamState = {};
        for (const [k, v] of Object.entries(s)) copy[k] = v instanceof Tensor ? v.clone() : v;
        state[index] = copy;
      });
    });
    let start = 0;
    const param_groups = this.paramGroups.map((group) => {
      const packed: Record<string, JsonValue> = {};
      for (const [k, v] of Object.entries(group)) {
        if (k === 'params' || v === undefined) continue;
        packed[snakeCase(k)] = Array.isArray(v) ? [...(v as JsonValue[])] : (v as JsonValue);
      }
      const indices = group.params.map((_, i) => start + i);
      start += group.params.length;
      return { ...packed, params: indices };
    });
    return { state, param_groups };
  }

  /**
   * Loads a state dict (ours, or one in PyTorch's layout with its extra options): group options
   * are replaced by the saved ones, and state tensors are copied, cast to their parameter's dtype
   * and device. The state dict is not modified and remains the caller's.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    this.checkAlive('loadStateDict');
    const op = `${this.name}.loadStateDict`;
    if (!isPlainObject(sd) || !isPlainObject(sd.state) || !Array.isArray(sd.param_groups)) {
      typeError(op, 'expected {state: {...}, param_groups: [...]}');
    }
    const saved = sd.param_groups;
    if (saved.length !== this.paramGroups.length) optionError(op, 'loaded state dict has a different number of parameter groups');
    for (const [i, g] of saved.entries()) {
      if (!isPlainObject(g) || !Array.isArray(g.params)) typeError(op, `param_groups[${i}] has no params list`);
      if (g.params.length !== this.paramGroups[i].params.length) {
        optionError(op, "loaded state dict contains a parameter group that doesn't match the size of optimizer's group");
      }
    }
    // Saved index -> parameter, as PyTorch's id_map.
    const idMap = new Map<number, Tensor>();
    saved.forEach((g, i) => g.params.forEach((id, j) => idMap.set(Number(id), this.paramGroups[i].params[j])));

    // Check and convert everything before touching the optimiser, so a bad state dict changes nothing.
    const known = new Set([...Object.keys(this.defaults), 'lr', 'initialLr']);
    const newOptions = saved.map((g, i) => {
      const options: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(g)) {
        if (k === 'params' || PYTORCH_ONLY_OPTIONS.has(k)) continue;
        const key = camelCase(k);
        if (!known.has(key)) optionError(op, `param_groups[${i}] has option '${k}', which ${this.name} does not have (a state dict of another optimiser?)`);
        options[key] = Array.isArray(v) ? [...v] : v;
      }
      const merged = { ...this.paramGroups[i], ...options };
      this.validateOptions(merged as unknown as O, `param_groups[${i}] of the state dict`);
      return options;
    });
    for (const key of Object.keys(sd.state)) {
      const id = Number(key);
      if (!idMap.has(id)) optionError(op, `state for parameter index ${key}, which no param group lists`);
      const entry = sd.state[id];
      if (!isPlainObject(entry)) typeError(op, `state[${key}] must be an object`);
      const param = idMap.get(id)!;
      for (const [k, v] of Object.entries(entry)) {
        if (v instanceof Tensor) {
          if (v.isDisposed) optionError(op, `state[${key}].${k} is disposed`);
          if (k !== 'step' && v.shape.join() !== param.shape.join()) {
            optionError(op, `state[${key}].${k} has shape [${v.shape}], its parameter [${param.shape}]`);
          }
        } else if (typeof v !== 'number') {
          typeError(op, `state[${key}].${k} must be a Tensor or a number, got ${v === null ? 'null' : typeof v}`);
        }
      }
    }

    const fresh = new Map<Tensor, ParamState>();
    noGrad(() => {
      for (const [key, entry] of Object.entries(sd.state)) {
        const param = idMap.get(Number(key))!;
        const copy: ParamState = {};
        for (const [k, v] of Object.entries(entry)) {
          if (!(v instanceof Tensor)) copy[k] = v;
          else if (k === 'step')
            copy[k] = Number(v.item()); // PyTorch keeps Adam's step as a 0-d tensor
          else {
            const floating = param.dtype.startsWith('float') || param.dtype === 'bfloat16';
            copy[k] = keep(v.to({ dtype: floating ? param.dtype : v.dtype, device: param.device as never, copy: true }));
          }
        }
        fresh.set(param, copy);
      }
    });
    this.disposeState();
    for (const [p, s] of fresh) this.state.set(p, s);
    newOptions.forEach((options, i) => {
      const group = this.paramGroups[i] as unknown as Record<string, unknown>;
      if (!('initialLr' in options)) delete group.initialLr;
      Object.assign(group, options);
    });
  }

  private disposeState(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
  }

  /** Frees the optimiser's state tensors. Idempotent; the optimiser cannot step afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposeState();
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private checkAlive(what: string): void {
    if (this.disposed) optionError(`${this.name}.${what}`, 'the optimizer has been disposed');
  }

  toString(): string {
    const lines = [`${this.name} (`];
    this.paramGroups.forEach((g, i) => {
      lines.push(`Parameter Group ${i}`);
      for (const k of Object.keys(g).sort()) if (k !== 'params') lines.push(`    ${k}: ${JSON.stringify((g as unknown as Record<string, unknown>)[k])}`);
    });
    lines.push(')');
    return lines.join('\n');
  }
}

/** Checks an option that must be a number in [min, ...) (PyTorch's `if not 0.0 <= x`). */
export function checkNonNegative(op: string, label: string, value: unknown): void {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value))
    optionError(op, `Invalid ${label}: ${String(value)} (must be a finite number >= 0)`);
}

export function checkBoolean(op: string, label: string, value: unknown): void {
  if (typeof value !== 'boolean') optionError(op, `${label} must be true or false, got ${String(value)}`);
}

// ---- flattening for safetensors ----

/** Tensors and JSON metadata of a state dict, for files that hold tensors by name (safetensors). */
export interface FlatOptimizerState {
  /** State tensors under keys `state.<param index>.<name>`, e.g. `state.3.exp_avg`. */
  tensors: Record<string, Tensor>;
  /** Everything else: numbers in state (Adam's step), and the param groups. JSON-serialisable. */
  meta: { state: Record<string, Record<string, number>>; param_groups: OptimizerStateDict['param_groups'] };
}

/** Splits a state dict into named tensors and JSON metadata. The tensors are the state dict's own (not copies). */
export function flattenOptimizerState(sd: OptimizerStateDict): FlatOptimizerState {
  const tensors: Record<string, Tensor> = {};
  const state: Record<string, Record<string, number>> = {};
  for (const [index, entry] of Object.entries(sd.state)) {
    const numbers: Record<string, number> = {};
    for (const [k, v] of Object.entries(entry)) {
      if (k.includes('.')) optionError('flattenOptimizerState', `state key '${k}' contains a '.'`);
      if (v instanceof Tensor) tensors[`state.${index}.${k}`] = v;
      else numbers[k] = v;
    }
    state[index] = numbers;
  }
  return { tensors, meta: { state, param_groups: JSON.parse(JSON.stringify(sd.param_groups)) } };
}

/** The inverse of flattenOptimizerState: a state dict holding the given tensors (not copies). */
export function unflattenOptimizerState(tensors: Record<string, Tensor>, meta: FlatOptimizerState['meta']): OptimizerStateDict {
  const op = 'unflattenOptimizerState';
  if (!isPlainObject(meta) || !isPlainObject(meta.state) || !Array.isArray(meta.param_groups)) typeError(op, 'meta must be {state, param_groups}');
  const state: Record<number, ParamState> = {};
  for (const [index, numbers] of Object.entries(meta.state)) state[Number(index)] = { ...numbers };
  for (const [key, t] of Object.entries(tensors)) {
    const m = /^state\.(\d+)\.([^.]+)$/.exec(key);
    if (m === null) optionError(op, `tensor key '${key}' is not of the form state.<index>.<name>`);
    if (!(t instanceof Tensor)) typeError(op, `tensors['${key}'] is not a Tensor`);
    const index = Number(m[1]);
    (state[index] ??= {})[m[2]] = t;
  }
  return { state, param_groups: JSON.parse(JSON.stringify(meta.param_groups)) };
}
