// Looking at a whole dataset: counts, image sizes, class pixel frequencies, the raw label values
// found, and every problem (collected, not thrown: one bad file does not hide the others).
import sharp from 'sharp';
import { compileMapping, IGNORE_INDEX } from './classes.js';
import type { DatasetDescription, Sample } from './dataset.js';
import { describeSample, numClasses } from './dataset.js';
import { checkMask, configureSharp, decodeImage, readRawLabel, undeclaredError } from './decode.js';
import { DataError, type DataErrorInfo, listValues } from './errors.js';
import { renderScene } from './synthetic.js';

export interface InspectOptions {
  /** Inspect only the first N samples. */
  limit?: number;
  /** Files decoded at once (default 4). */
  concurrency?: number;
  /** Decode images fully (default true: finds truncated files); false reads headers only. */
  decodeImages?: boolean;
  onProgress?: (done: number, total: number) => void;
  /**
   * Problems found before inspecting, reported with the others: the images without their label
   * that loadDataset's onMissingLabel collected.
   */
  problems?: readonly DataErrorInfo[];
}

export interface InspectReport {
  dataset: { name: string; format: string; split: string; root: string | null; classes: string[] };
  counts: { samples: number; labelled: number; unlabelled: number; inspected: number };
  /** Image sizes and how many images have each, most common first. */
  imageSizes: { width: number; height: number; count: number }[];
  /** Pixels per class over the inspected labels, and their share of all labelled pixels. */
  classPixels: { trainId: number; name: string; pixels: number; fraction: number }[];
  ignorePixels: number;
  labelPixels: number;
  /** Raw values found in label files: pixels, what they map to, whether the dataset declares them. */
  labelValues: { value: number; pixels: number; mapsTo: string; declared: boolean }[];
  problems: DataErrorInfo[];
}

function info(err: unknown, fallbackFile: string): DataErrorInfo {
  if (err instanceof DataError) return err.toInfo();
  return { code: 'unreadable', message: `${fallbackFile}: ${(err as Error)?.message ?? String(err)}`, file: fallbackFile };
}

export async function inspectDataset(ds: DatasetDescription, options: InspectOptions = {}): Promise<InspectReport> {
  configureSharp();
  const samples = options.limit !== undefined ? ds.samples.slice(0, options.limit) : ds.samples;
  const k = numClasses(ds);
  const compiled = compileMapping(ds.mapping, k);
  const rawHist = new Float64Array(65536);
  const trainHist = new Float64Array(256);
  const sizes = new Map<string, { width: number; height: number; count: number }>();
  const problems: DataErrorInfo[] = [...(options.problems ?? [])];
  let labelled = 0;
  for (const s of ds.samples) if (s.label.kind !== 'none') labelled++;

  const addSize = (width: number, height: number) => {
    const key = `${width}x${height}`;
    const e = sizes.get(key) ?? { width, height, count: 0 };
    e.count++;
    sizes.set(key, e);
  };

  const imageSize = async (s: Sample): Promise<{ width: number; height: number } | null> => {
    if (s.image.kind === 'synthetic') return { width: s.image.scene.width, height: s.image.scene.height };
    try {
      if (options.decodeImages === false) {
        const m = await sharp(s.image.path).metadata();
        return { width: m.width, height: m.height };
      }
      const img = await decodeImage(s.image.path);
      return { width: img.width, height: img.height };
    } catch (err) {
      problems.push(
        err instanceof DataError
          ? err.toInfo()
          : { code: 'unreadable', message: `cannot read image ${s.image.path}: ${(err as Error).message}`, file: s.image.path },
      );
      return null;
    }
  };

  const one = async (s: Sample): Promise<void> => {
    const size = await imageSize(s);
    if (size !== null) addSize(size.width, size.height);
    const label = s.label;
    try {
      if (label.kind === 'file') {
        const raw = await readRawLabel(label.path);
        if (size !== null && (raw.width !== size.width || raw.height !== size.height)) {
          problems.push({
            code: 'size-mismatch',
            message: `label ${label.path} is ${raw.width}x${raw.height} but its image ${describeSample(s)} is ${size.width}x${size.height}`,
            file: label.path,
          });
        }
        const ch = ds.encoding.channel;
        if (ch >= raw.channels) {
          problems.push({
            code: 'unreadable',
            message: `label ${label.path} has ${raw.channels} channel(s) (${raw.kind}); the dataset reads channel ${ch}`,
            file: label.path,
          });
          return;
        }
        const n = raw.width * raw.height;
        const local = new Map<number, number>();
        for (let i = 0, j = ch; i < n; i++, j += raw.channels) {
          const v = raw.data[j];
          local.set(v, (local.get(v) ?? 0) + 1);
        }
        const bad: number[] = [];
        for (const [v, c] of local) {
          rawHist[v] += c;
          trainHist[compiled.lut[v]] += c;
          if (compiled.declared[v] === 0) bad.push(v);
        }
        if (bad.length > 0)
          problems.push(
            undeclaredError(
              label.path,
              bad.sort((a, b) => a - b),
              raw,
            ).toInfo(),
          );
      } else if (label.kind === 'mask') {
        const bad = checkMask(label.mask.data, k);
        if (bad.length > 0)
          problems.push({
            code: 'undeclared-values',
            message: `mask of sample '${s.id}' holds values that are neither a class nor ignore: ${listValues(bad)}`,
            file: describeSample(s),
            values: bad,
          });
        for (const v of label.mask.data) trainHist[v >= k ? IGNORE_INDEX : v]++;
      } else if (label.kind === 'synthetic' && s.image.kind === 'synthetic') {
        const scene = renderScene(s.image.scene);
        for (const v of scene.label) {
          rawHist[v]++;
          trainHist[compiled.lut[v]]++;
        }
      }
    } catch (err) {
      problems.push(info(err, label.kind === 'file' ? label.path : describeSample(s)));
    }
  };

  const concurrency = Math.max(1, options.concurrency ?? 4);
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, samples.length) }, async () => {
      while (next < samples.length) {
        const s = samples[next++];
        await one(s);
        options.onProgress?.(++done, samples.length);
      }
    }),
  );

  let labelPixels = 0;
  for (let v = 0; v < 256; v++) labelPixels += trainHist[v];
  const classPixels = ds.classes.names.map((name, trainId) => ({
    trainId,
    name,
    pixels: trainHist[trainId],
    fraction: labelPixels > 0 ? trainHist[trainId] / labelPixels : 0,
  }));
  const labelValues: InspectReport['labelValues'] = [];
  for (let v = 0; v < 65536; v++) {
    if (rawHist[v] === 0) continue;
    const t = compiled.lut[v];
    labelValues.push({ value: v, pixels: rawHist[v], mapsTo: t === IGNORE_INDEX ? 'ignore' : ds.classes.names[t], declared: compiled.declared[v] === 1 });
  }
  problems.sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || a.code.localeCompare(b.code));
  return {
    dataset: { name: ds.name, format: ds.format, split: ds.split, root: ds.root, classes: [...ds.classes.names] },
    counts: { samples: ds.samples.length, labelled, unlabelled: ds.samples.length - labelled, inspected: samples.length },
    imageSizes: [...sizes.values()].sort((a, b) => b.count - a.count),
    classPixels,
    ignorePixels: trainHist[IGNORE_INDEX],
    labelPixels,
    labelValues,
    problems,
  };
}

/** The report as text for people. */
export function formatReport(r: InspectReport): string {
  const lines: string[] = [];
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const pct = (f: number) => `${(100 * f).toFixed(2)}%`;
  lines.push(`dataset   ${r.dataset.name} (${r.dataset.format}, split ${r.dataset.split})${r.dataset.root ? ` at ${r.dataset.root}` : ''}`);
  lines.push(
    `samples   ${r.counts.samples} (${r.counts.labelled} labelled, ${r.counts.unlabelled} unlabelled)` +
      (r.counts.inspected !== r.counts.samples ? `; inspected the first ${r.counts.inspected}` : ''),
  );
  lines.push(`sizes     ${r.imageSizes.map((s) => `${s.width}x${s.height} (${s.count})`).join(', ') || 'none read'}`);
  lines.push(`classes   ${r.dataset.classes.length}; pixels per class (share of labelled pixels):`);
  const w = Math.max(6, ...r.classPixels.map((c) => c.name.length));
  for (const c of r.classPixels)
    lines.push(`  ${String(c.trainId).padStart(3)} ${c.name.padEnd(w)} ${fmt(c.pixels).padStart(14)}  ${pct(c.fraction).padStart(7)}`);
  lines.push(
    `  ${String(IGNORE_INDEX).padStart(3)} ${'ignore'.padEnd(w)} ${fmt(r.ignorePixels).padStart(14)}  ${pct(r.labelPixels ? r.ignorePixels / r.labelPixels : 0).padStart(7)}`,
  );
  if (r.labelValues.length > 0) {
    lines.push('label values found (raw → class):');
    for (const v of r.labelValues)
      lines.push(`  ${String(v.value).padStart(5)} → ${v.mapsTo.padEnd(w)} ${fmt(v.pixels).padStart(14)}${v.declared ? '' : '  UNDECLARED'}`);
  }
  if (r.problems.length === 0) lines.push('problems  none');
  else {
    lines.push(`problems  ${r.problems.length}:`);
    for (const p of r.problems) lines.push(`  [${p.code}] ${p.message}`);
  }
  return lines.join('\n');
}

export interface PreflightOptions {
  log?: (line: string) => void;
  /** Files decoded at once (default 4). */
  concurrency?: number;
}

/**
 * Reads every image and label of the datasets a training will read, before its first iteration,
 * and reports every problem at once (a truncated image found at iteration 15 is hours into a
 * Cityscapes run). Drawn formats (synthetic) have no files and are skipped. Throws a DataError
 * listing the problems; logs what it read and how long it took.
 */
export async function preflightDatasets(sets: { what: string; dataset: DatasetDescription }[], options: PreflightOptions = {}): Promise<void> {
  const started = performance.now();
  const problems: DataErrorInfo[] = [];
  let images = 0;
  for (const { what, dataset } of sets) {
    if (dataset.format === 'synthetic') continue;
    const report = await inspectDataset(dataset, { concurrency: options.concurrency ?? 4 });
    images += report.counts.inspected;
    for (const p of report.problems) problems.push({ ...p, message: `${what}: ${p.message}` });
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (problems.length === 0) {
    if (images > 0) options.log?.(`pre-flight: ${images} images and their labels read in ${seconds} s, no problems`);
    return;
  }
  const shown = problems.slice(0, 20).map((p) => `  ${p.message}`);
  if (problems.length > 20) shown.push(`  ... and ${problems.length - 20} more`);
  throw new DataError(
    problems[0].code,
    `pre-flight: ${problems.length} problem(s) in the data, found before training by reading ${images} images in ${seconds} s (fix them, or --skip-preflight to train anyway):\n${shown.join('\n')}`,
    {
      ...(problems[0].file !== undefined ? { file: problems[0].file } : {}),
    },
  );
}
