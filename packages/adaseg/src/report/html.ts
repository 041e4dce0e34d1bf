// report.html: one self-contained page (inline CSS, SVG plots drawn here, example images as data:
// URIs) from the results. Every plotted point carries its value (data-x, data-y) and every number
// cell its raw value (data-value), so a test can check the page against results.json.
import { type BaselineResult, classesMissingInVal, type ExampleImage, type ExperimentResults, type Stat, type StrategyResult } from './results.js';

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
const RANDOM_COLOUR = '#555555';

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const pct = (v: number, digits = 2) => (Number.isFinite(v) ? (v * 100).toFixed(digits) : '–');
const num = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const r6 = (v: number) => Number(v.toFixed(6));
const tickLabel = (v: number) => String(Number(v.toFixed(3)));

/** A table cell holding a number: shown formatted, raw in data-value. */
function cell(value: number | null | undefined, text: string, cls = ''): string {
  const attr = value === null || value === undefined || !Number.isFinite(value) ? '' : ` data-value="${value}"`;
  return `<td class="num${cls ? ` ${cls}` : ''}"${attr}>${text}</td>`;
}

function meanStd(s: Stat, scale = 100): string {
  if (s.n === 0) return '–';
  return s.n > 1 ? `${(s.mean * scale).toFixed(2)} ± ${(s.std * scale).toFixed(2)}` : (s.mean * scale).toFixed(2);
}

/** 'Nice' tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

export interface PlotGeometry {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  x: [number, number];
  y: [number, number];
}

export function plotX(g: PlotGeometry, v: number): number {
  return g.left + ((v - g.x[0]) / (g.x[1] - g.x[0])) * (g.width - g.left - g.right);
}

export function plotY(g: PlotGeometry, v: number): number {
  return g.height - g.bottom - ((v - g.y[0]) / (g.y[1] - g.y[0])) * (g.height - g.top - g.bottom);
}

function colourOf(results: ExperimentResults): Map<string, string> {
  const map = new Map<string, string>();
  let i = 0;
  for (const s of results.strategies) map.set(s.strategy, s.strategy === results.baselines.random ? RANDOM_COLOUR : COLOURS[i++ % COLOURS.length]);
  return map;
}

/** The budget curve: mIoU (y) against labelled pixels % (x), mean line and mean ± std band per strategy, baselines as lines. */
export function budgetPlot(results: ExperimentResults): string {
  const colours = colourOf(results);
  const xs = results.strategies.flatMap((s) => s.curve.map((p) => p.percent.mean));
  const ys = results.strategies.flatMap((s) => s.curve.flatMap((p) => [p.mIoU.mean - p.mIoU.std, p.mIoU.mean + p.mIoU.std, p.mIoU.mean]));
  const lines: { name: string; value: number; dash: string; colour: string }[] = [];
  const b = results.baselines;
  if (b.full) lines.push({ name: 'full supervision', value: b.full.mIoU.mean, dash: '', colour: '#000000' });
  if (b.udaOnly) lines.push({ name: 'UDA only', value: b.udaOnly.mIoU.mean, dash: '8 4 2 4', colour: '#666666' });
  if (b.sourceOnly) lines.push({ name: 'source only', value: b.sourceOnly.mIoU.mean, dash: '2 3', colour: '#999999' });
  ys.push(...lines.map((l) => l.value));
  const finite = ys.filter(Number.isFinite);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  const pad = Math.max(0.01, (hi - lo) * 0.08);
  lo = Math.max(0, lo - pad);
  hi = Math.min(1, hi + pad);
  if (!(hi > lo)) hi = lo + 0.01;
  const xMax = Math.max(1e-6, ...xs.filter(Number.isFinite)) * 1.04;
  const g: PlotGeometry = { width: 760, height: 440, left: 64, right: 170, top: 20, bottom: 52, x: [0, xMax], y: [lo, hi] };
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="plot" id="budget-plot" font-family="sans-serif" viewBox="0 0 ${g.width} ${g.height}" width="${g.width}" height="${g.height}" role="img" aria-label="mIoU against labelled pixels" data-x0="${g.x[0]}" data-x1="${g.x[1]}" data-y0="${g.y[0]}" data-y1="${g.y[1]}" data-left="${g.left}" data-right="${g.right}" data-top="${g.top}" data-bottom="${g.bottom}">`,
  );
  // Axes and grid.
  for (const t of ticks(g.y[0], g.y[1])) {
    const y = plotY(g, t).toFixed(1);
    out.push(
      `<line class="grid" x1="${g.left}" x2="${g.width - g.right}" y1="${y}" y2="${y}" stroke="#eeeeee"/><text class="tick" x="${g.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11" fill="#555555">${tickLabel(t * 100)}</text>`,
    );
  }
  for (const t of ticks(g.x[0], g.x[1])) {
    const x = plotX(g, t).toFixed(1);
    out.push(
      `<line class="grid" x1="${x}" x2="${x}" y1="${g.top}" y2="${g.height - g.bottom}" stroke="#eeeeee"/><text class="tick" x="${x}" y="${g.height - g.bottom + 16}" text-anchor="middle" font-size="11" fill="#555555">${tickLabel(t)}</text>`,
    );
  }
  out.push(
    `<rect class="frame" x="${g.left}" y="${g.top}" width="${g.width - g.left - g.right}" height="${g.height - g.top - g.bottom}" fill="none" stroke="#999999"/>`,
  );
  out.push(
    `<text class="label" x="${(g.left + g.width - g.right) / 2}" y="${g.height - 12}" text-anchor="middle" font-size="12" fill="#333333">labelled target pixels (% of the pool, void included)</text>`,
  );
  out.push(
    `<text class="label" transform="translate(16 ${(g.top + g.height - g.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#333333">mIoU (%) on target val</text>`,
  );
  // Baselines.
  for (const l of lines) {
    const y = plotY(g, l.value).toFixed(2);
    out.push(
      `<line class="baseline" data-baseline="${escapeHtml(l.name)}" data-y="${l.value}" x1="${g.left}" x2="${g.width - g.right}" y1="${y}" y2="${y}" stroke="${l.colour}" stroke-width="1.5" stroke-dasharray="${l.dash}"/>`,
    );
  }
  // Bands, then lines and points.
  for (const s of results.strategies) {
    if (s.curve.length === 0) continue;
    const c = colours.get(s.strategy)!;
    if (s.curve.some((p) => p.mIoU.n > 1)) {
      const upper = s.curve.map((p) => `${plotX(g, p.percent.mean).toFixed(2)},${plotY(g, Math.min(g.y[1], p.mIoU.mean + p.mIoU.std)).toFixed(2)}`);
      const lower = s.curve.map((p) => `${plotX(g, p.percent.mean).toFixed(2)},${plotY(g, Math.max(g.y[0], p.mIoU.mean - p.mIoU.std)).toFixed(2)}`).reverse();
      out.push(
        `<polygon class="band" data-strategy="${escapeHtml(s.strategy)}" points="${[...upper, ...lower].join(' ')}" fill="${c}" fill-opacity="0.15" stroke="none"/>`,
      );
    }
  }
  for (const s of results.strategies) {
    if (s.curve.length === 0) continue;
    const c = colours.get(s.strategy)!;
    const d = s.curve.map((p, i) => `${i === 0 ? 'M' : 'L'}${plotX(g, p.percent.mean).toFixed(2)} ${plotY(g, p.mIoU.mean).toFixed(2)}`).join(' ');
    const dashed = s.strategy === results.baselines.random ? ' stroke-dasharray="6 4"' : '';
    out.push(`<path class="curve" data-strategy="${escapeHtml(s.strategy)}" d="${d}" stroke="${c}" fill="none" stroke-width="2"${dashed}/>`);
    for (const p of s.curve) {
      out.push(
        `<circle class="point" data-strategy="${escapeHtml(s.strategy)}" data-round="${p.round}" data-x="${p.percent.mean}" data-y="${p.mIoU.mean}" cx="${plotX(g, p.percent.mean).toFixed(2)}" cy="${plotY(g, p.mIoU.mean).toFixed(2)}" r="3.5" fill="${c}"><title>${escapeHtml(s.strategy)} round ${p.round}: ${num(p.percent.mean, 3)}% labelled, mIoU ${meanStd(p.mIoU)}</title></circle>`,
      );
    }
  }
  // Legend.
  let ly = g.top + 8;
  const lx = g.width - g.right + 14;
  for (const s of results.strategies) {
    const c = colours.get(s.strategy)!;
    const dashed = s.strategy === results.baselines.random ? ' stroke-dasharray="6 4"' : '';
    out.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"${dashed}/><text class="legend" x="${lx + 28}" y="${ly}" dominant-baseline="middle" font-size="12" fill="#222222">${escapeHtml(s.strategy)}</text>`,
    );
    ly += 18;
  }
  for (const l of lines) {
    out.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${l.colour}" stroke-dasharray="${l.dash}" stroke-width="1.5"/><text class="legend" x="${lx + 28}" y="${ly}" dominant-baseline="middle" font-size="12" fill="#222222">${escapeHtml(l.name)}</text>`,
    );
    ly += 18;
  }
  out.push('</svg>');
  return out.join('\n');
}

/** Per-class IoU as a heat table: strategies after the last round, then baselines. */
function classTable(results: ExperimentResults): string {
  const rows: { name: string; iou: (number | null)[]; miou: number }[] = results.strategies.map((s) => ({
    name: s.strategy,
    iou: s.final.iou,
    miou: s.final.mIoU.mean,
  }));
  const b = results.baselines;
  if (b.sourceOnly) rows.push({ name: 'source only', iou: b.sourceOnly.iou, miou: b.sourceOnly.mIoU.mean });
  if (b.udaOnly) rows.push({ name: 'UDA only', iou: b.udaOnly.iou, miou: b.udaOnly.mIoU.mean });
  if (b.full) rows.push({ name: 'full supervision', iou: b.full.iou, miou: b.full.mIoU.mean });
  const heat = (v: number | null) => (v === null ? '' : ` style="background:hsl(${Math.round(v * 120)},65%,${88 - Math.round(v * 18)}%)"`);
  const head = `<tr><th>model</th>${results.classNames.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}<th>mIoU</th></tr>`;
  const body = rows
    .map(
      (r) =>
        `<tr data-row="${escapeHtml(r.name)}"><th>${escapeHtml(r.name)}</th>${r.iou
          .map((v) => (v === null ? '<td class="num">–</td>' : `<td class="num" data-value="${v}"${heat(v)}>${pct(v, 1)}</td>`))
          .join('')}${cell(r.miou, pct(r.miou), 'strong')}</tr>`,
    )
    .join('\n');
  return `<table class="classes" id="class-iou"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

/** Columns of the mIoU over the classes in the validation labels (none when it equals the standard one). */
function inValCells(shown: boolean, mIoU: Stat | undefined, ofFull: number | null | undefined): string {
  if (!shown) return '';
  return `${cell(mIoU?.mean ?? null, mIoU ? meanStd(mIoU) : '–')}${cell(ofFull ?? null, ofFull === null || ofFull === undefined ? '–' : pct(ofFull, 1))}`;
}

function baselineRow(inValShown: boolean, name: string, b: BaselineResult, full: BaselineResult | undefined): string {
  const ofFullInVal = full?.mIoUInVal && b.mIoUInVal ? b.mIoUInVal.mean / full.mIoUInVal.mean : null;
  return `<tr class="baseline-row" data-row="${escapeHtml(name)}"><th>${escapeHtml(name)}</th><td class="num">–</td>${cell(b.mIoU.mean, meanStd(b.mIoU))}${cell(full ? b.mIoU.mean / full.mIoU.mean : null, full ? pct(b.mIoU.mean / full.mIoU.mean, 1) : '–')}${inValCells(inValShown, b.mIoUInVal, ofFullInVal)}<td class="num">–</td><td class="num">–</td><td class="num">–</td></tr>`;
}

function summaryTable(results: ExperimentResults): string {
  const b = results.baselines;
  const missing = classesMissingInVal(results);
  const inValShown = missing.length > 0;
  const row = (s: StrategyResult) => {
    const v = s.vsRandom;
    const needed = v === null ? '–' : v.percentNeeded === null ? 'not reached' : num(v.percentNeeded, 3);
    const saved = v === null || v.saved === null ? '–' : `${(v.saved * 100).toFixed(1)}%`;
    return `<tr data-row="${escapeHtml(s.strategy)}"><th>${escapeHtml(s.strategy)}${s.strategy === b.random ? ' <span class="tag">baseline</span>' : ''}</th>${cell(s.final.percent.mean, num(s.final.percent.mean, 3))}${cell(s.final.mIoU.mean, meanStd(s.final.mIoU), 'strong')}${cell(s.ofFull, s.ofFull === null ? '–' : pct(s.ofFull, 1))}${inValCells(inValShown, s.final.mIoUInVal, s.ofFullInVal)}${cell(s.aubc.mean, meanStd(s.aubc))}${cell(v?.percentNeeded ?? null, needed)}${cell(v?.saved ?? null, saved)}</tr>`;
  };
  const rows = results.strategies.map(row);
  if (b.sourceOnly) rows.push(baselineRow(inValShown, 'source only', b.sourceOnly, b.full));
  if (b.udaOnly) rows.push(baselineRow(inValShown, 'UDA only', b.udaOnly, b.full));
  if (b.full) rows.push(baselineRow(inValShown, 'full supervision', b.full, b.full));
  const inValHeads = !inValShown
    ? ''
    : `<th>final mIoU % over the ${results.classNames.length - missing.length} classes in val</th><th>% of full (same classes)</th>`;
  return `<table id="summary"><thead><tr><th>strategy</th><th>labelled px %</th><th>final mIoU %</th><th>% of full</th>${inValHeads}<th>AUBC (mIoU %)</th><th>px % to reach random's final mIoU</th><th>labels saved vs random</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

function roundsTable(results: ExperimentResults): string {
  const rounds = Math.max(0, ...results.strategies.map((s) => s.curve.length));
  const head = `<tr><th>round</th>${results.strategies.map((s) => `<th colspan="2">${escapeHtml(s.strategy)}</th>`).join('')}</tr><tr><th></th>${results.strategies.map(() => '<th>px %</th><th>mIoU %</th>').join('')}</tr>`;
  const body: string[] = [];
  for (let i = 0; i < rounds; i++) {
    body.push(
      `<tr><th>${i === 0 ? '0 (start)' : i}</th>${results.strategies
        .map((s) => {
          const p = s.curve[i];
          return p === undefined ? '<td></td><td></td>' : `${cell(p.percent.mean, num(p.percent.mean, 3))}${cell(p.mIoU.mean, meanStd(p.mIoU))}`;
        })
        .join('')}</tr>`,
    );
  }
  return `<table id="rounds"><thead>${head}</thead><tbody>${body.join('\n')}</tbody></table>`;
}

function examplesSection(examples: ExampleImage[]): string {
  if (examples.length === 0) return '<p>No example images (report.examples is 0).</p>';
  const byStrategy = new Map<string, ExampleImage[]>();
  for (const e of examples) byStrategy.set(e.strategy, [...(byStrategy.get(e.strategy) ?? []), e]);
  const parts: string[] = [];
  for (const [strategy, list] of byStrategy) {
    parts.push(`<h3>${escapeHtml(strategy)} <small>(seed ${list[0].seed})</small></h3><div class="examples">`);
    for (const e of list) {
      parts.push(
        `<figure class="example" data-strategy="${escapeHtml(strategy)}" data-image="${escapeHtml(e.imageId)}"><img src="${e.image}" width="${e.width}" height="${e.height}" alt="${escapeHtml(e.imageId)} with selected units"><img src="${e.mask}" width="${e.width}" height="${e.height}" alt="${escapeHtml(e.imageId)} partial label mask"><figcaption>${escapeHtml(e.imageId)}: ${e.coveredPixels} px selected in round${e.rounds.length > 1 ? 's' : ''} ${e.rounds.join(', ')}</figcaption></figure>`,
      );
    }
    parts.push('</div>');
  }
  return parts.join('\n');
}

function describeBudget(r: ExperimentResults): string {
  const b = r.budget;
  const total = b.kind === 'pixelPercent' ? `${b.total}% of the pool's pixels` : `${b.total} ${b.kind === 'images' ? 'images' : 'units'}`;
  const u = r.units;
  const units =
    u.kind === 'region'
      ? `${2 * u.k + 1}×${2 * u.k + 1} regions`
      : u.kind === 'superpixel'
        ? `superpixels of ~${u.size} px (${u.method ?? 'slic'})`
        : `${u.kind}s`;
  return `${total} over ${r.rounds} rounds, as ${units}`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}th,td{border:1px solid #ddd;padding:3px 7px}th{background:#f5f5f5;text-align:left;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.strong{font-weight:600}.baseline-row th{font-style:italic}.tag{font-size:11px;color:#777;font-weight:400}
svg.plot{max-width:100%;height:auto;background:#fff;font-family:inherit}
.examples{display:flex;flex-wrap:wrap;gap:14px}.example{margin:0}.example img{width:240px;height:auto;image-rendering:pixelated;border:1px solid #ccc;margin-right:4px}.example figcaption{font-size:12px;color:#555}
.meta{color:#555}code{background:#f3f3f3;padding:0 3px}
`;

export function renderReport(results: ExperimentResults, examples: ExampleImage[] = []): string {
  const seeds = results.seeds.length;
  const b = results.baselines;
  const notes: string[] = [];
  const random = results.strategies.find((s) => s.strategy === b.random);
  if (random !== undefined) {
    const better = results.strategies.filter(
      (s) => s !== random && s.final.mIoU.n > 0 && s.final.mIoU.mean - random.final.mIoU.mean > Math.max(s.final.mIoU.std, random.final.mIoU.std),
    );
    notes.push(
      better.length > 0
        ? `Beating random at the final budget by more than the seed spread (std): ${better.map((s) => `<b>${escapeHtml(s.strategy)}</b> (+${pct(s.final.mIoU.mean - random.final.mIoU.mean)} mIoU)`).join(', ')}.`
        : 'No strategy beats random at the final budget by more than the seed spread (std): random region selection is a strong baseline here.',
    );
  }
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(results.name)}: active domain adaptation report</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(results.name)}</h1>
<p class="meta">Budget: ${escapeHtml(describeBudget(results))}. Pool: ${results.poolImages} images, ${results.poolPixels} pixels. Seeds: ${results.seeds.join(', ')} (${seeds}). Bands and ± are the standard deviation over seeds. The full-supervision baseline trains on every pool label for ${results.pipelineIterations} iterations (as many as the active pipeline after source training).</p>
${notes.map((n) => `<p>${n}</p>`).join('\n')}
<h2>mIoU against labelled pixels</h2>
${budgetPlot(results)}
<h2>Summary</h2>
${summaryTable(results)}
${(() => {
  const missing = classesMissingInVal(results);
  if (missing.length === 0) return '';
  return `<p class="meta" id="classes-missing-in-val">The validation labels have no pixel of ${missing.map((c) => `<b>${escapeHtml(c)}</b>`).join(', ')}. The standard mIoU counts such a class as 0 for a model that predicts it on a single pixel and leaves it out for a model that never does; the columns “over the classes in val” leave it out for every model.</p>`;
})()}
<p class="meta">AUBC: the area under the mIoU curve from the start model (0%) to the last round, divided by that range (a mean mIoU over the budget). Labels saved vs random: 1 − (pixels this strategy needs to reach random's final mIoU, on its mean curve, linear between rounds) / (random's final pixels).</p>
<h2>mIoU per round</h2>
${roundsTable(results)}
<h2>Per-class IoU (after the last round)</h2>
${classTable(results)}
<h2>Selected regions</h2>
<p class="meta">Each pool image with its selected units drawn over it (colour = round: ${['red', 'orange', 'green', 'blue', 'purple', 'yellow', 'cyan', 'pink']
    .slice(0, results.rounds)
    .map((c, i) => `${i + 1} ${c}`)
    .join(', ')}), and its partial label mask (class colours; black = selected but void; light grey = unknown).</p>
${examplesSection(examples)}
<script type="application/json" id="results-summary">${JSON.stringify({ strategies: results.strategies.map((s) => ({ strategy: s.strategy, finalMIoU: r6(s.final.mIoU.mean), aubc: r6(s.aubc.mean) })) }).replace(/</g, '\\u003c')}</script>
</body>
</html>
`;
}
