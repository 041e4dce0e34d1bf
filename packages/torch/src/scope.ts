// Deterministic memory management, after tfjs-core's tidy: every tensor made inside a scope is
// freed when the scope ends unless it is returned or kept. Garbage collection is only a safety net.
import { argError } from './errors.js';
import { native, type CpuAllocatorStats } from './native.js';
import type { Tensor } from './tensor.js';

const scopes: Set<Tensor>[] = [];
const kept = new WeakSet<Tensor>();

/** Called by every Tensor at creation. */
export function track(t: Tensor): void {
  const current = scopes[scopes.length - 1];
  if (current !== undefined && !kept.has(t)) current.add(t);
}

/** Exempts a tensor from disposal by the enclosing scopes (it must then be disposed by hand). */
export function keep<T extends Tensor>(t: T): T {
  if (t === null || typeof t !== 'object' || (t as { isTensor?: unknown }).isTensor !== true) argError('keep', 'expected a Tensor');
  kept.add(t);
  for (const scope of scopes) scope.delete(t);
  return t;
}

function collect(value: unknown, into: Set<Tensor>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ((value as { isTensor?: unknown }).isTensor === true) {
    into.add(value as Tensor);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, into, seen);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) collect(v, into, seen);
    return;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into, seen);
  }
}

/**
 * Runs fn; tensors created during it are disposed when it returns, except the tensors it returns
 * (directly, or inside arrays, Maps and plain objects), which move to the enclosing scope.
 * fn must be synchronous: use `asyncScope` for async work.
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') argError('tidy', 'expected a function');
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    argError('tidy', 'fn returned a Promise; use asyncScope for async functions');
  }
  const returned = new Set<Tensor>();
  collect(result, returned, new Set());
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (returned.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/**
 * Like tidy for async functions: tensors created while fn runs (including by other async work in
 * the meantime, which JS cannot tell apart) are disposed at the end unless returned or kept.
 */
export async function asyncScope<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  const remove = () => {
    const i = scopes.lastIndexOf(scope);
    if (i >= 0) scopes.splice(i, 1);
  };
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    remove();
    for (const t of scope) t.dispose();
    throw err;
  }
  remove();
  const returned = new Set<Tensor>();
  collect(result, returned, new Set());
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (returned.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Disposes every tensor found in value (a tensor, or arrays/Maps/plain objects of them). */
export function dispose(value: unknown): void {
  const found = new Set<Tensor>();
  collect(value, found, new Set());
  for (const t of found) t.dispose();
}

export interface MemoryInfo {
  /** Live tensor handles held by JS. */
  tensors: number;
  /** Bytes of the distinct storages those handles hold (views are counted once). */
  bytes: number;
  /** Distinct storages. */
  storages: number;
  /** Scopes currently open. */
  scopes: number;
}

/** Live tensors and bytes, counted on the native side. */
export function memory(): MemoryInfo {
  return { ...native.memory(), scopes: scopes.length };
}

export type { CpuAllocatorStats };

/**
 * Gives the blocks kept by the caching CPU allocator back to the system (like
 * torch.cuda.empty_cache). Memory held by live tensors is not touched.
 */
export function emptyCache(): void {
  native.emptyCache();
}

/** Bytes cached and in use, hits and misses of the caching CPU allocator (process-wide). */
export function cpuAllocatorStats(): CpuAllocatorStats {
  return native.cpuAllocatorStats();
}
