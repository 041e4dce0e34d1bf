// Prints tensors as Python's PyTorch does (torch/_tensor_str.py, default print options:
// precision 4, threshold 1000, edge items 3, line width 80), so output can be compared by eye.
import { isFloating, type DType } from './dtype.js';
import type { Tensor } from './tensor.js';

const PRECISION = 4;
const THRESHOLD = 1000;
const EDGE_ITEMS = 3;
const LINE_WIDTH = 80;

/**
 * A finite value as Python's '{:.Nf}' (or '{:.Ne}') writes it: unlike JS's toFixed and
 * toExponential, exact ties round half to even (0.03125 -> '0.0312') and -0 keeps its sign.
 */
function pythonRound(value: number, digits: number, exp: boolean): string {
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  const abs = Math.abs(value);
  let s = exp ? abs.toExponential(digits) : abs.toFixed(digits);
  const exact = exp ? abs.toExponential(100) : abs.toFixed(100); // every digit of a double
  const e = exact.indexOf('e');
  if (exp || e < 0) {
    const mantissa = exp ? exact.slice(0, e) : exact;
    const point = mantissa.indexOf('.');
    const kept = mantissa.slice(0, digits === 0 ? point : point + 1 + digits);
    const rest = mantissa.slice(point + 1 + digits);
    if (/^50*$/.test(rest) && Number(kept[kept.length - 1]) % 2 === 0) s = kept + (exp ? exact.slice(e) : '');
  }
  return sign + s;
}

/** A value as Python's '{:.4e}' writes it (two-digit exponent at least). */
function pythonExp(value: number, digits: number): string {
  const s = pythonRound(value, digits, true);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

function pythonFixed(value: number, digits: number): string {
  return pythonRound(value, digits, false);
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
        for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pythonFixed(v, 0).length + 1);
      }
    } else if (max / min > 1000 || max > 1e8 || min < 1e-4) {
      this.sciMode = true;
      for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pythonExp(v, PRECISION).length);
    } else {
      for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pythonFixed(v, PRECISION).length);
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
    else if (this.intMode) s = `${pythonFixed(v, 0)}.`;
    else s = pythonFixed(v, PRECISION);
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
  const slices = edgeIndices(view.shape[0], summarize).map((i) => (i === null ? '...' : tensorStr(sub(view, i), indent + 1, summarize, fmt)));
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
    // No values to tell int64 or bool by: Python names every dtype but float32 here.
    if (dtype !== 'float32') suffixes.push(`dtype=torch.${dtype}`);
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
  if (numel > 0 && !DEFAULT_DTYPES.includes(dtype)) suffixes.push(`dtype=torch.${dtype}`);
  const gradFn = t.gradFn; // already without its C++ namespace
  if (gradFn !== null) suffixes.push(`grad_fn=<${gradFn}>`);
  else if (t.requiresGrad) suffixes.push('requires_grad=True');
  return `tensor(${[body, ...suffixes].join(', ')})`;
}
