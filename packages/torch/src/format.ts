// Prints tensors as Python's PyTorch does (torch/_tensor_str.py, default print options:
// precision 4, threshold 1000, edge items 3, line width 80), so output can be compared by eye.
import { isFloating, type DType } from './dtype.js';
import type { Tensor } from './tensor.js';

const PRECISION = 4;
const THRESHOLD = 1000;
const EDGE_ITEMS = 3;
const LINE_WIDTH = 80;

/** A value as Python's '{:.4e}' writes it (two-digit exponent at least). */
function pythonExp(value: number, digits: number): string {
  const s = value.toExponential(digits);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

function pythonFloat(value: number, digits: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return value.toFixed(digits);
}

class Formatter {
  private intMode = true;
  private sciMode = false;
  private maxWidth = 1;

  constructor(
    private readonly floating: boolean,
    private readonly isBool: boolean,
    values: number[],
  ) {
    if (!floating) {
      for (const v of values) this.maxWidth = Math.max(this.maxWidth, this.plain(v).length);
      return;
    }
    const finite = values.filter((v) => Number.isFinite(v) && v !== 0);
    if (finite.length === 0) return;
    const abs = finite.map(Math.abs);
    const min = Math.min(...abs);
    const max = Math.max(...abs);
    this.intMode = finite.every((v) => v === Math.ceil(v));
    if (this.intMode) {
      if (max / min > 1000 || max > 1e8) {
        this.sciMode = true;
        for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pythonExp(v, PRECISION).length);
      } else {
        for (const v of finite) this.maxWidth = Math.max(this.maxWidth, v.toFixed(0).length + 1);
      }
    } else if (max / min > 1000 || max > 1e8 || min < 1e-4) {
      this.sciMode = true;
      for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pythonExp(v, PRECISION).length);
    } else {
      for (const v of finite) this.maxWidth = Math.max(this.maxWidth, v.toFixed(PRECISION).length);
    }
  }

  private plain(v: number): string {
    if (this.isBool) return v ? 'True' : 'False';
    return String(v);
  }

  get width(): number {
    return this.maxWidth;
  }

  format(v: number): string {
    let s: string;
    if (!this.floating) s = this.plain(v);
    else if (!Number.isFinite(v)) s = pythonFloat(v, 0);
    else if (this.sciMode) s = pythonExp(v, PRECISION);
    else if (this.intMode) s = `${v.toFixed(0)}.`;
    else s = v.toFixed(PRECISION);
    return s.padStart(this.maxWidth, ' ');
  }
}

interface View {
  data: ArrayLike<number | bigint>;
  offset: number;
  shape: number[];
  strides: number[];
}

function at(view: View, i: number): number {
  return Number(view.data[view.offset + i * view.strides[0]]);
}

function sub(view: View, i: number): View {
  return { data: view.data, offset: view.offset + i * view.strides[0], shape: view.shape.slice(1), strides: view.strides.slice(1) };
}

function edgeIndices(n: number, summarize: boolean): (number | null)[] {
  if (!summarize || n <= 2 * EDGE_ITEMS) return Array.from({ length: n }, (_, i) => i);
  const head = Array.from({ length: EDGE_ITEMS }, (_, i) => i);
  const tail = Array.from({ length: EDGE_ITEMS }, (_, i) => n - EDGE_ITEMS + i);
  return [...head, null, ...tail];
}

function summarizedValues(view: View, summarize: boolean, out: number[]): void {
  if (view.shape.length === 0) {
    out.push(Number(view.data[view.offset]));
    return;
  }
  for (const i of edgeIndices(view.shape[0], summarize)) {
    if (i === null) continue;
    if (view.shape.length === 1) out.push(at(view, i));
    else summarizedValues(sub(view, i), summarize, out);
  }
}

function vectorStr(view: View, indent: number, summarize: boolean, fmt: Formatter): string {
  const elementLength = fmt.width + 2;
  const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent) / elementLength));
  const data = edgeIndices(view.shape[0], summarize).map((i) => (i === null ? ' ...' : fmt.format(at(view, i))));
  const lines: string[] = [];
  for (let i = 0; i < data.length; i += perLine) lines.push(data.slice(i, i + perLine).join(', '));
  return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
}

function tensorStr(view: View, indent: number, summarize: boolean, fmt: Formatter): string {
  const dim = view.shape.length;
  if (dim === 0) return fmt.format(Number(view.data[view.offset]));
  if (dim === 1) return vectorStr(view, indent, summarize, fmt);
  const slices = edgeIndices(view.shape[0], summarize).map((i) =>
    i === null ? '...' : tensorStr(sub(view, i), indent + 1, summarize, fmt),
  );
  return `[${slices.join(`,${'\n'.repeat(dim - 1)}${' '.repeat(indent + 1)}`)}]`;
}

const DEFAULT_DTYPES: DType[] = ['float32', 'int64', 'bool'];

export function formatTensor(t: Tensor): string {
  const shape = t.shape;
  const dtype = t.dtype;
  const numel = shape.reduce((a, b) => a * b, 1);
  const suffixes: string[] = [];
  if (t.device !== 'cpu') suffixes.push(`device='${t.device}'`);
  let body: string;
  if (numel === 0) {
    body = '[]';
    if (shape.length !== 1) suffixes.push(`size=(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`);
  } else {
    const source = dtype === 'float16' || dtype === 'bfloat16' ? t.to('float32') : t;
    const data = source.toTypedArray();
    if (source !== t) source.dispose();
    const strides: number[] = [];
    let s = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      strides[i] = s;
      s *= shape[i];
    }
    const view: View = { data, offset: 0, shape, strides };
    const summarize = numel > THRESHOLD;
    const values: number[] = [];
    summarizedValues(view, summarize, values);
    const fmt = new Formatter(isFloating(dtype), dtype === 'bool', values);
    body = tensorStr(view, 'tensor('.length, summarize, fmt);
  }
  if (!DEFAULT_DTYPES.includes(dtype)) suffixes.push(`dtype=torch.${dtype}`);
  const gradFn = t.gradFn;  // already without its C++ namespace
  if (gradFn !== null) suffixes.push(`grad_fn=<${gradFn}>`);
  else if (t.requiresGrad) suffixes.push('requires_grad=True');
  return `tensor(${[body, ...suffixes].join(', ')})`;
}
