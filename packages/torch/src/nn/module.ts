// nn.Module: explicit registration of parameters, buffers and submodules, with dotted names
// identical to PyTorch's so that state dicts move between the two.
import { noGrad } from '../autograd.js';
import { argError } from '../errors.js';
import { isFloating, type DType } from '../dtype.js';
import { keep } from '../scope.js';
import { checkTensor, type Device, Tensor } from '../tensor.js';

export type StateDict = Record<string, Tensor>;

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Raised by loadStateDict, listing every problem at once. */
export class StateDictError extends Error {
  constructor(
    message: string,
    readonly missingKeys: string[],
    readonly unexpectedKeys: string[],
    readonly shapeMismatches: string[],
  ) {
    super(message);
    this.name = 'StateDictError';
  }
}

function checkName(kind: string, name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.includes('.')) {
    argError(`register${kind}`, `name must be a non-empty string without '.', got '${String(name)}'`);
  }
}

export abstract class Module {
  training = true;
  private readonly parametersMap = new Map<string, Tensor | null>();
  private readonly buffersMap = new Map<string, Tensor | null>();
  private readonly nonPersistent = new Set<string>();
  private readonly modulesMap = new Map<string, Module | null>();

  abstract forward(...inputs: any[]): any;

  /** Adds a trainable tensor; the module owns it (kept out of scopes, disposed with the module). */
  registerParameter(name: string, value: Tensor | null): Tensor | null {
    checkName('Parameter', name);
    if (this.buffersMap.has(name) || this.modulesMap.has(name)) argError('registerParameter', `'${name}' is already a buffer or module`);
    if (value !== null) {
      checkTensor('registerParameter', name, value);
      keep(value);
      if (isFloating(value.dtype) && !value.requiresGrad) value.requiresGrad_(true);
    }
    this.parametersMap.set(name, value);
    return value;
  }

  /** Adds a state tensor that is not trained (running statistics); persistent ones join the state dict. */
  registerBuffer(name: string, value: Tensor | null, persistent = true): Tensor | null {
    checkName('Buffer', name);
    if (this.parametersMap.has(name) || this.modulesMap.has(name)) argError('registerBuffer', `'${name}' is already a parameter or module`);
    if (value !== null) keep(checkTensor('registerBuffer', name, value));
    this.buffersMap.set(name, value);
    if (persistent) this.nonPersistent.delete(name);
    else this.nonPersistent.add(name);
    return value;
  }

  registerModule<M extends Module | null>(name: string, module: M): M {
    checkName('Module', name);
    if (module !== null && !(module instanceof Module)) argError('registerModule', `'${name}' must be a Module`);
    if (this.parametersMap.has(name) || this.buffersMap.has(name)) argError('registerModule', `'${name}' is already a parameter or buffer`);
    this.modulesMap.set(name, module);
    return module;
  }

  /** The parameter, buffer or submodule registered under name. */
  getParameter(name: string): Tensor | null {
    const p = this.parametersMap.get(name);
    if (p === undefined) argError('getParameter', `no parameter '${name}'`);
    return p;
  }

  getBuffer(name: string): Tensor | null {
    const b = this.buffersMap.get(name);
    if (b === undefined) argError('getBuffer', `no buffer '${name}'`);
    return b;
  }

  /** Replaces a registered buffer (e.g. a running statistic) and disposes the old tensor. */
  protected setBuffer(name: string, value: Tensor): void {
    const old = this.buffersMap.get(name);
    keep(value);
    this.buffersMap.set(name, value);
    if (old && old !== value) old.dispose();
  }

  *namedChildren(): Generator<[string, Module]> {
    for (const [name, m] of this.modulesMap) if (m !== null) yield [name, m];
  }

  children(): Module[] {
    return [...this.namedChildren()].map(([, m]) => m);
  }

  /** This module and all below it, depth first, each once, with dotted names ('' for this one). */
  *namedModules(prefix = '', seen = new Set<Module>()): Generator<[string, Module]> {
    if (seen.has(this)) return;
    seen.add(this);
    yield [prefix, this];
    for (const [name, m] of this.namedChildren()) {
      yield* m.namedModules(prefix === '' ? name : `${prefix}.${name}`, seen);
    }
  }

  modules(): Module[] {
    return [...this.namedModules()].map(([, m]) => m);
  }

  private *namedMembers(which: 'parameters' | 'buffers', prefix: string, recurse: boolean): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const modules: Iterable<[string, Module]> = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [modulePrefix, m] of modules) {
      const map = which === 'parameters' ? m.parametersMap : m.buffersMap;
      for (const [name, t] of map) {
        if (t === null || seen.has(t)) continue;
        seen.add(t);
        yield [modulePrefix === '' ? name : `${modulePrefix}.${name}`, t];
      }
    }
  }

  /** [dotted name, tensor] of every parameter, each once (shared ones under their first name). */
  namedParameters(prefix = '', recurse = true): [string, Tensor][] {
    return [...this.namedMembers('parameters', prefix, recurse)];
  }

  parameters(recurse = true): Tensor[] {
    return this.namedParameters('', recurse).map(([, t]) => t);
  }

  namedBuffers(prefix = '', recurse = true): [string, Tensor][] {
    return [...this.namedMembers('buffers', prefix, recurse)];
  }

  buffers(recurse = true): Tensor[] {
    return this.namedBuffers('', recurse).map(([, t]) => t);
  }

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Clears gradients: to null (the default, as PyTorch 2) or to zeros. */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      if (setToNone) {
        p.grad = null;
      } else {
        const g = p.grad;
        if (g !== null) {
          noGrad(() => g.zero_());
          g.dispose();
        }
      }
    }
  }

  /** Calls fn on every submodule and then on this one, as PyTorch's apply. */
  apply(fn: (m: Module) => void): this {
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag);
    return this;
  }

  /**
   * Moves or converts every parameter and buffer (floating ones only for a dtype). The tensors are
   * replaced, so build optimisers after moving a model, as PyTorch recommends.
   */
  to(target: Device | DType | { device?: Device; dtype?: DType; memoryFormat?: 'contiguous' | 'channels_last' }): this {
    const opts =
      typeof target === 'string' ? (target.startsWith('cuda') || target === 'cpu' ? { device: target as Device } : { dtype: target as DType }) : target;
    for (const m of this.modules()) {
      for (const map of [m.parametersMap, m.buffersMap]) {
        for (const [name, t] of map) {
          if (t === null) continue;
          const dtype = opts.dtype !== undefined && isFloating(t.dtype) ? opts.dtype : undefined;
          const memoryFormat = opts.memoryFormat !== undefined && t.ndim === 4 ? opts.memoryFormat : undefined;
          if (dtype === undefined && opts.device === undefined && memoryFormat === undefined) continue;
          const moved = noGrad(() => t.to({ dtype, device: opts.device, memoryFormat }).detach());
          if (moved.native === t.native) continue;
          keep(moved);
          if (t.requiresGrad) moved.requiresGrad_(true);
          map.set(name, moved);
          t.dispose();
        }
      }
    }
    return this;
  }

  /**
   * Parameters and persistent buffers by dotted name. The tensors are detached views sharing the
   * module's memory (new handles in the current scope): disposing them does not harm the module.
   */
  stateDict(prefix = ''): StateDict {
    const out: StateDict = {};
    for (const [modulePrefix, m] of this.namedModules(prefix)) {
      const key = (name: string) => (modulePrefix === '' ? name : `${modulePrefix}.${name}`);
      for (const [name, t] of m.parametersMap) if (t !== null) out[key(name)] = t.detach();
      for (const [name, t] of m.buffersMap) if (t !== null && !m.nonPersistent.has(name)) out[key(name)] = t.detach();
    }
    return out;
  }

  /**
   * Copies values from a state dict into this module's tensors. Shape mismatches are always an
   * error (all listed in one message); with strict (default) so are missing and unexpected keys.
   */
  loadStateDict(stateDict: StateDict | Map<string, Tensor>, options: { strict?: boolean } = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const entries = stateDict instanceof Map ? stateDict : new Map(Object.entries(stateDict));
    const targets = new Map<string, Tensor>();
    for (const [modulePrefix, m] of this.namedModules()) {
      const key = (name: string) => (modulePrefix === '' ? name : `${modulePrefix}.${name}`);
      for (const [name, t] of m.parametersMap) if (t !== null) targets.set(key(name), t);
      for (const [name, t] of m.buffersMap) if (t !== null && !m.nonPersistent.has(name)) targets.set(key(name), t);
    }
    const missingKeys = [...targets.keys()].filter((k) => !entries.has(k));
    const unexpectedKeys = [...entries.keys()].filter((k) => !targets.has(k));
    const shapeMismatches: string[] = [];
    for (const [k, target] of targets) {
      const source = entries.get(k);
      if (source === undefined) continue;
      if (!(source instanceof Tensor)) {
        shapeMismatches.push(`${k}: not a tensor`);
        continue;
      }
      const a = source.shape;
      const b = target.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        shapeMismatches.push(`${k}: checkpoint has [${a.join(', ')}], model has [${b.join(', ')}]`);
      }
    }
    const problems: string[] = [];
    if (shapeMismatches.length > 0) problems.push(`size mismatch for ${shapeMismatches.length} tensor(s):\n  ${shapeMismatches.join('\n  ')}`);
    if (strict && missingKeys.length > 0) problems.push(`missing key(s): ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length > 0) problems.push(`unexpected key(s): ${unexpectedKeys.join(', ')}`);
    if (problems.length > 0) {
      throw new StateDictError(`loadStateDict (${this.constructor.name}): ${problems.join('\n')}`, missingKeys, unexpectedKeys, shapeMismatches);
    }
    noGrad(() => {
      for (const [k, target] of targets) {
        const source = entries.get(k);
        if (source !== undefined) target.copy_(source);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Frees every parameter and buffer now. Idempotent. */
  dispose(): void {
    for (const m of this.modules()) {
      for (const t of m.parametersMap.values()) t?.dispose();
      for (const t of m.buffersMap.values()) t?.dispose();
    }
  }

  /** Number of parameter elements (trainable only when asked). */
  numParameters(trainableOnly = false): number {
    return this.parameters()
      .filter((p) => !trainableOnly || p.requiresGrad)
      .reduce((n, p) => n + p.numel(), 0);
  }

  toString(): string {
    const lines = [`${this.constructor.name}(${this.extraRepr()}`];
    const children = [...this.namedChildren()];
    if (children.length === 0) return `${lines[0]})`;
    for (const [name, m] of children) lines.push(`  (${name}): ${m.toString().split('\n').join('\n  ')}`);
    lines[0] = `${this.constructor.name}(`;
    lines.push(')');
    return lines.join('\n');
  }

  /** Extra text shown in toString, e.g. a layer's sizes. */
  protected extraRepr(): string {
    return '';
  }
}
