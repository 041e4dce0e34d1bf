// The canvas: the query's image at an integer zoom (pixels stay square and sharp), with layers
// drawn over it in this order: the model's prediction (class colours), the uncertainty heat map,
// the answer so far (class colours), a shade outside the queried pixels of a paint query, and the
// outlines of the queried units (the current region in yellow).
import { NONE, UNASSIGNED, type Rect, type Workspace } from './workspace.js';

type Rgb = readonly [number, number, number];

// An inferno-like ramp: low uncertainty dark and transparent, high bright and opaque.
const HEAT: readonly [number, Rgb][] = [
  [0, [0, 0, 4]],
  [0.25, [87, 16, 110]],
  [0.5, [188, 55, 84]],
  [0.75, [249, 142, 9]],
  [1, [252, 255, 164]],
];

export function heatColour(v: number): Rgb {
  const t = v / 255;
  for (let i = 1; i < HEAT.length; i++) {
    const [t1, c1] = HEAT[i];
    if (t <= t1) {
      const [t0, c0] = HEAT[i - 1];
      const a = (t - t0) / (t1 - t0);
      return [Math.round(c0[0] + (c1[0] - c0[0]) * a), Math.round(c0[1] + (c1[1] - c0[1]) * a), Math.round(c0[2] + (c1[2] - c0[2]) * a)];
    }
  }
  return HEAT[HEAT.length - 1][1];
}

function layer(width: number, height: number): { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D } {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  return { canvas, ctx: canvas.getContext('2d')! };
}

/** The borders between a set of units and everything else, as a path in image coordinates. */
function outlinePath(ws: Workspace, only?: number): Path2D {
  const path = new Path2D();
  const W = ws.width,
    H = ws.height,
    owner = ws.owner;
  const pixels = only === undefined ? null : ws.units[only];
  const visit = (p: number) => {
    const o = owner[p];
    const x = p % W,
      y = (p - x) / W;
    if (x === 0 || owner[p - 1] !== o) (path.moveTo(x, y), path.lineTo(x, y + 1));
    if (x === W - 1 || owner[p + 1] !== o) (path.moveTo(x + 1, y), path.lineTo(x + 1, y + 1));
    if (y === 0 || owner[p - W] !== o) (path.moveTo(x, y), path.lineTo(x + 1, y));
    if (y === H - 1 || owner[p + W] !== o) (path.moveTo(x, y + 1), path.lineTo(x + 1, y + 1));
  };
  if (pixels !== null) for (const p of pixels) visit(p);
  else for (let p = 0; p < owner.length; p++) if (owner[p] >= 0) visit(p);
  return path;
}

export interface Visibility {
  prediction: boolean;
  uncertainty: boolean;
  /** 0..1: the opacity of the prediction and answer colours. */
  opacity: number;
}

export class View {
  zoom = 1;
  private ws: Workspace | null = null;
  private image: ImageBitmap | null = null;
  private palette: Rgb[] = [];
  private prediction: HTMLCanvasElement | null = null;
  private uncertainty: HTMLCanvasElement | null = null;
  private labels: { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D; data: ImageData } | null = null;
  private shade: HTMLCanvasElement | null = null;
  private outline: Path2D | null = null;
  private currentOutline: { unit: number; path: Path2D } | null = null;
  /** Where the pointer is (image coordinates) and the brush radius, for the brush preview. */
  hover: { x: number; y: number; radius: number } | null = null;

  constructor(readonly canvas: HTMLCanvasElement) {}

  clear(): void {
    this.ws = null;
    this.image = null;
    this.prediction = this.uncertainty = this.shade = null;
    this.labels = null;
    this.outline = null;
    this.currentOutline = null;
    this.canvas.width = this.canvas.height = 0;
  }

  show(ws: Workspace, image: ImageBitmap, palette: Rgb[], uncertainty: Uint8Array | null): void {
    this.ws = ws;
    this.image = image;
    this.palette = palette;
    const W = ws.width,
      H = ws.height;
    this.prediction = null;
    if (ws.prediction !== null) {
      const l = layer(W, H);
      const data = l.ctx.createImageData(W, H);
      for (let p = 0; p < W * H; p++) {
        const c = palette[ws.prediction[p]];
        if (c === undefined) continue;
        data.data.set([c[0], c[1], c[2], 255], p * 4);
      }
      l.ctx.putImageData(data, 0, 0);
      this.prediction = l.canvas;
    }
    this.uncertainty = null;
    if (uncertainty !== null) {
      const l = layer(W, H);
      const data = l.ctx.createImageData(W, H);
      for (let p = 0; p < W * H; p++) {
        const c = heatColour(uncertainty[p]);
        data.data.set([c[0], c[1], c[2], Math.round(40 + (uncertainty[p] * 215) / 255)], p * 4);
      }
      l.ctx.putImageData(data, 0, 0);
      this.uncertainty = l.canvas;
    }
    const labels = layer(W, H);
    this.labels = { ...labels, data: labels.ctx.createImageData(W, H) };
    this.updateLabels();
    this.shade = null;
    if (ws.kind === 'pixel-paint') {
      const l = layer(W, H);
      const data = l.ctx.createImageData(W, H);
      for (let p = 0; p < W * H; p++) if (ws.owner[p] < 0) data.data[p * 4 + 3] = 150;
      l.ctx.putImageData(data, 0, 0);
      this.shade = l.canvas;
    }
    this.outline = outlinePath(ws);
    this.currentOutline = null;
  }

  /** Recolours the answer layer (all of it, or the changed rectangle). */
  updateLabels(rect?: Rect): void {
    const ws = this.ws,
      labels = this.labels;
    if (ws === null || labels === null) return;
    const W = ws.width;
    const r = rect ?? { x0: 0, y0: 0, x1: ws.width, y1: ws.height };
    const px = labels.data.data;
    for (let y = r.y0; y < r.y1; y++) {
      for (let x = r.x0; x < r.x1; x++) {
        const p = y * W + x;
        const o = ws.owner[p];
        let cls = -1;
        if (o >= 0) cls = ws.kind === 'region-class' ? ws.classes[o] : ws.mask[p];
        const c = cls === UNASSIGNED || cls === -1 ? undefined : cls === NONE ? null : this.palette[cls];
        if (c === undefined) px[p * 4 + 3] = 0;
        else if (c === null)
          px.set([40, 40, 40, 200], p * 4); // "none": dark grey
        else px.set([c[0], c[1], c[2], 255], p * 4);
      }
    }
    labels.ctx.putImageData(labels.data, 0, 0, r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0);
  }

  /** Picks the zoom that fits the image into the given box (an integer from 1 up, to keep pixels square). */
  fit(maxWidth: number, maxHeight: number): void {
    if (this.ws === null) return;
    const z = Math.min(maxWidth / this.ws.width, maxHeight / this.ws.height);
    this.zoom = z >= 1 ? Math.min(32, Math.floor(z)) : z;
    this.canvas.width = Math.round(this.ws.width * this.zoom);
    this.canvas.height = Math.round(this.ws.height * this.zoom);
  }

  /** Image coordinates (fractional) of a pointer event, or null outside the image. */
  toImage(clientX: number, clientY: number): { x: number; y: number; p: number } | null {
    if (this.ws === null) return null;
    const box = this.canvas.getBoundingClientRect();
    const x = ((clientX - box.left) / box.width) * this.ws.width;
    const y = ((clientY - box.top) / box.height) * this.ws.height;
    if (x < 0 || y < 0 || x >= this.ws.width || y >= this.ws.height) return null;
    return { x, y, p: Math.floor(y) * this.ws.width + Math.floor(x) };
  }

  render(visible: Visibility): void {
    const ws = this.ws,
      image = this.image;
    const ctx = this.canvas.getContext('2d')!;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (ws === null || image === null) return;
    const z = this.zoom,
      Wd = this.canvas.width,
      Hd = this.canvas.height;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(image, 0, 0, Wd, Hd);
    if (visible.prediction && this.prediction !== null) {
      ctx.globalAlpha = visible.opacity;
      ctx.drawImage(this.prediction, 0, 0, Wd, Hd);
    }
    if (visible.uncertainty && this.uncertainty !== null) {
      ctx.globalAlpha = 0.85;
      ctx.drawImage(this.uncertainty, 0, 0, Wd, Hd);
    }
    if (this.shade !== null) {
      ctx.globalAlpha = 1;
      ctx.drawImage(this.shade, 0, 0, Wd, Hd);
    }
    if (this.labels !== null) {
      ctx.globalAlpha = Math.min(1, visible.opacity + 0.15);
      ctx.drawImage(this.labels.canvas, 0, 0, Wd, Hd);
    }
    ctx.globalAlpha = 1;
    ctx.setTransform(z, 0, 0, z, 0, 0);
    if (this.outline !== null) {
      ctx.lineWidth = 3 / z;
      ctx.strokeStyle = 'rgba(0, 0, 0, 0.8)';
      ctx.stroke(this.outline);
      ctx.lineWidth = 1.25 / z;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke(this.outline);
    }
    if (ws.kind === 'region-class' && ws.units.length > 0) {
      if (this.currentOutline?.unit !== ws.currentUnit) this.currentOutline = { unit: ws.currentUnit, path: outlinePath(ws, ws.currentUnit) };
      ctx.lineWidth = 3 / z;
      ctx.strokeStyle = '#ffd400';
      ctx.stroke(this.currentOutline.path);
    }
    if (this.hover !== null && ws.kind === 'pixel-paint') {
      ctx.beginPath();
      ctx.arc(this.hover.x, this.hover.y, Math.max(0.5, this.hover.radius), 0, Math.PI * 2);
      ctx.lineWidth = 1.5 / z;
      ctx.strokeStyle = '#00e5ff';
      ctx.stroke();
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  }
}
