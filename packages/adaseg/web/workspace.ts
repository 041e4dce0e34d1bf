// One query being answered: which pixels belong to which queried unit, the answer so far (a class
// per region, or a painted mask of train ids) and its undo history. No DOM here: the view draws
// it and main.ts wires it to the buttons and keys.
import type { QueryDetail } from './api.js';

/** "None of the classes" (void) for a region, "unknown" for a painted pixel: the store's 255. */
export const NONE = 255;
/** A region without an answer yet. */
export const UNASSIGNED = -1;
const UNDO_LIMIT = 40;

export interface Rect {
  x0: number;
  y0: number;
  /** Exclusive. */
  x1: number;
  y1: number;
}

export class Workspace {
  readonly width: number;
  readonly height: number;
  /** Unit position per pixel (-1 outside the query). */
  readonly owner: Int32Array;
  /** The pixel indices of each unit, by position. */
  readonly units: Int32Array[];
  /** Pixels inside the query. */
  readonly queried: number;
  /** Region-class: the class per unit (UNASSIGNED, a class id or NONE). */
  readonly classes: Int16Array;
  /** Pixel-paint: train id per pixel (NONE = unknown); only queried pixels are ever set. */
  readonly mask: Uint8Array;
  currentUnit = 0;
  private readonly undoStack: (Int16Array | Uint8Array)[] = [];

  constructor(
    readonly query: QueryDetail,
    owner: Int32Array,
    /** The model's predicted train ids (null when not available). */
    readonly prediction: Uint8Array | null,
  ) {
    this.width = query.width;
    this.height = query.height;
    if (owner.length !== this.width * this.height) throw new Error(`the unit map has ${owner.length} pixels, the query is ${this.width}x${this.height}`);
    this.owner = owner;
    const counts = new Int32Array(query.unitList.length);
    let queried = 0;
    for (let p = 0; p < owner.length; p++) {
      const o = owner[p];
      if (o < 0) continue;
      if (o >= counts.length) throw new Error(`the unit map names unit ${o + 1}, the query has ${counts.length}`);
      counts[o]++;
      queried++;
    }
    this.queried = queried;
    this.units = Array.from(counts, (n) => new Int32Array(n));
    const fill = new Int32Array(counts.length);
    for (let p = 0; p < owner.length; p++) if (owner[p] >= 0) this.units[owner[p]][fill[owner[p]]++] = p;
    this.classes = new Int16Array(counts.length).fill(UNASSIGNED);
    this.mask = new Uint8Array(owner.length).fill(NONE);
  }

  get kind() {
    return this.query.kind;
  }

  /** Shows a stored answer: classes per region, or the stored labels of the painted pixels. */
  loadAnswer(classes: readonly number[] | null, labels: Uint8Array | null): void {
    if (classes !== null) classes.forEach((c, i) => (this.classes[i] = c));
    if (labels !== null) for (let p = 0; p < this.mask.length; p++) if (this.owner[p] >= 0) this.mask[p] = labels[p];
  }

  private remember(): void {
    this.undoStack.push(this.kind === 'region-class' ? this.classes.slice() : this.mask.slice());
    if (this.undoStack.length > UNDO_LIMIT) this.undoStack.shift();
  }

  /** Reverts the last change; false when there is none. */
  undo(): boolean {
    const last = this.undoStack.pop();
    if (last === undefined) return false;
    if (last instanceof Int16Array) this.classes.set(last);
    else this.mask.set(last);
    return true;
  }

  // ---- region-class ----

  unassigned(): number {
    return this.classes.reduce((n, c) => n + (c === UNASSIGNED ? 1 : 0), 0);
  }

  /** Gives the current region a class and moves on to the next region without one. */
  assign(cls: number): void {
    this.remember();
    this.classes[this.currentUnit] = cls;
    const n = this.classes.length;
    for (let k = 1; k <= n; k++) {
      const u = (this.currentUnit + k) % n;
      if (this.classes[u] === UNASSIGNED) {
        this.currentUnit = u;
        return;
      }
    }
  }

  moveUnit(delta: number): void {
    const n = this.classes.length;
    this.currentUnit = (((this.currentUnit + delta) % n) + n) % n;
  }

  /** Makes the region under pixel p current; false when p is outside the query. */
  selectUnitAt(p: number): boolean {
    const o = this.owner[p];
    if (o === undefined || o < 0) return false;
    this.currentUnit = o;
    return true;
  }

  /** The most frequent predicted class over a unit's pixels. */
  predictedClass(unit: number): number | null {
    if (this.prediction === null) return null;
    const votes = new Map<number, number>();
    for (const p of this.units[unit]) votes.set(this.prediction[p], (votes.get(this.prediction[p]) ?? 0) + 1);
    let best: number | null = null;
    let most = 0;
    for (const [c, n] of votes) if (n > most || (n === most && best !== null && c < best)) ((best = c), (most = n));
    return best;
  }

  // ---- pixel-paint ----

  unknownPixels(): number {
    let n = 0;
    for (const unit of this.units) for (const p of unit) if (this.mask[p] === NONE) n++;
    return n;
  }

  /** Call before a brush stroke (one undo step per stroke). */
  beginStroke(): void {
    this.remember();
  }

  /** Paints a disc of `radius` pixels around image point (cx, cy); returns the changed area or null. */
  paintDisc(cx: number, cy: number, radius: number, cls: number): Rect | null {
    const W = this.width,
      H = this.height;
    const x0 = Math.max(0, Math.floor(cx - radius)),
      x1 = Math.min(W, Math.ceil(cx + radius) + 1);
    const y0 = Math.max(0, Math.floor(cy - radius)),
      y1 = Math.min(H, Math.ceil(cy + radius) + 1);
    const r2 = radius * radius;
    let changed = false;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const dx = x + 0.5 - cx,
          dy = y + 0.5 - cy;
        // The pixel under the pointer is always painted, however small the brush.
        const hit = dx * dx + dy * dy <= r2 || (x === Math.floor(cx) && y === Math.floor(cy));
        const p = y * W + x;
        if (hit && this.owner[p] >= 0 && this.mask[p] !== cls) {
          this.mask[p] = cls;
          changed = true;
        }
      }
    }
    return changed ? { x0, y0, x1, y1 } : null;
  }

  /** Fills the connected area (4-neighbours, inside the query) of pixel p's current value with cls. */
  fill(p: number, cls: number): Rect | null {
    if (this.owner[p] === undefined || this.owner[p] < 0) return null;
    const from = this.mask[p];
    if (from === cls) return null;
    this.remember();
    const W = this.width,
      H = this.height;
    const stack = [p];
    const rect = { x0: W, y0: H, x1: 0, y1: 0 };
    this.mask[p] = cls;
    while (stack.length > 0) {
      const q = stack.pop()!;
      const x = q % W,
        y = (q - x) / W;
      rect.x0 = Math.min(rect.x0, x);
      rect.y0 = Math.min(rect.y0, y);
      rect.x1 = Math.max(rect.x1, x + 1);
      rect.y1 = Math.max(rect.y1, y + 1);
      const next = [x > 0 ? q - 1 : -1, x < W - 1 ? q + 1 : -1, y > 0 ? q - W : -1, y < H - 1 ? q + W : -1];
      for (const n of next) {
        if (n >= 0 && this.owner[n] >= 0 && this.mask[n] === from) {
          this.mask[n] = cls;
          stack.push(n);
        }
      }
    }
    return rect;
  }

  // ---- both ----

  /**
   * The prediction as a pre-label: every queried pixel gets the predicted class (pixel-paint), or
   * every region without a class gets its most predicted class (region-class). False when there
   * is no prediction.
   */
  usePrediction(): boolean {
    if (this.prediction === null) return false;
    this.remember();
    if (this.kind === 'region-class') {
      for (let u = 0; u < this.classes.length; u++) if (this.classes[u] === UNASSIGNED) this.classes[u] = this.predictedClass(u) ?? UNASSIGNED;
    } else {
      for (const unit of this.units) for (const p of unit) this.mask[p] = this.prediction[p];
    }
    return true;
  }

  /** The body of the answer API call (without `seconds`). */
  answer(): { classes: number[] } | { mask: string } {
    if (this.kind === 'region-class') return { classes: Array.from(this.classes, (c) => (c === UNASSIGNED ? NONE : c)) };
    return { mask: base64(this.mask) };
  }
}

export function base64(bytes: Uint8Array): string {
  let binary = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}
