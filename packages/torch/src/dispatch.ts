// Calls ATen operators by schema name through the addon's single generic entry. Each name is
// resolved once; arguments are converted by the operator's schema on the native side.
import { native, type NativeTensor, type NativeValue } from './native.js';
import { Tensor } from './tensor.js';

const ids = new Map<string, number>();

/** The dispatcher id of an ATen op, e.g. 'add.Tensor' or 'sum' (default overload). */
export function opId(name: string): number {
  let id = ids.get(name);
  if (id === undefined) {
    const dot = name.indexOf('.');
    const base = dot < 0 ? name : name.slice(0, dot);
    const overload = dot < 0 ? '' : name.slice(dot + 1);
    id = native.resolveOp(base.includes('::') ? base : `aten::${base}`, overload);
    ids.set(name, id);
  }
  return id;
}

/** The schema of an ATen op as libtorch declares it (for documentation and debugging). */
export function opSchema(name: string): string {
  return native.opSchema(opId(name));
}

function toNativeArg(value: unknown): unknown {
  if (value instanceof Tensor) return value.native;
  if (Array.isArray(value)) return value.map(toNativeArg);
  return value;
}

function wrap(value: NativeValue, inputs: Tensor[]): unknown {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((v) => wrap(v, inputs));
  if (typeof value === 'object') {
    const handle = value as NativeTensor;
    // In-place and out= ops hand back the caller's own handle: return the caller's Tensor.
    for (const t of inputs) if (t.native === handle) return t;
    return new Tensor(handle);
  }
  return value;
}

function gatherTensors(value: unknown, into: Tensor[]): void {
  if (value instanceof Tensor) into.push(value);
  else if (Array.isArray(value)) for (const v of value) gatherTensors(v, into);
}

/**
 * Calls an ATen op: positional args in schema order, then keyword args by schema name.
 * Tensors (and arrays of them) are passed by handle; results come back as Tensors.
 */
export function call<R = Tensor>(name: string, args: unknown[], kwargs?: Record<string, unknown>): R {
  const id = opId(name);
  const inputs: Tensor[] = [];
  gatherTensors(args, inputs);
  let nativeKwargs: Record<string, unknown> | undefined;
  if (kwargs !== undefined) {
    nativeKwargs = {};
    for (const [k, v] of Object.entries(kwargs)) {
      if (v === undefined) continue;
      gatherTensors(v, inputs);
      nativeKwargs[k] = toNativeArg(v);
    }
  }
  const result = native.callOp(id, args.map(toNativeArg), nativeKwargs);
  return wrap(result, inputs) as R;
}
