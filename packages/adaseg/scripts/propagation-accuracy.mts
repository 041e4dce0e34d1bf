// How good rounds.labelPropagation's training labels are (BENCHMARKS.md, issue 7, session 5):
// buys 1% of camvid-day2dusk's target_pool as random 3x3 regions (12 per image, seeded), spreads
// them with propagateLabels over SLIC superpixels, and prints per class how many pixels each
// bought pixel becomes and how many of them are right. Reads the ground truth: an analysis only.
// Usage: node --import tsx scripts/propagation-accuracy.mts [DATASET_ROOT] [SUPERPIXEL_SIZE]
import { poolGroundTruth } from '../src/experiment/annotators.js';
import { propagateLabels } from '../src/experiment/label-propagation.js';
import { poolImageRgb, superpixels, unitLayout } from '../src/active/units.js';
import { loadDataset } from '../src/data/formats/index.js';

const root = process.argv[2] ?? new URL('../../../../shared/datasets/camvid-day2dusk', import.meta.url).pathname;
const size = Number(process.argv[3] ?? 30);
const pool = await loadDataset({ format: 'folder', root, split: 'target_pool' });
const resize = [{ kind: 'resize' as const, width: 120, height: 90 }];
const truth = poolGroundTruth(pool, resize);
const names = pool.classes.names;
const C = names.length;
const W = 120;
const H = 90;
const layout = unitLayout({ kind: 'region', k: 1 }, { width: W, height: H });
let seed = 1;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const bought = new Float64Array(C);
const assigned = new Float64Array(C);
const right = new Float64Array(C);
for (let i = 0; i < pool.samples.length; i++) {
  const label = await truth(i, pool.samples[i].id);
  const segmentation = superpixels({ kind: 'superpixel', size }, { width: W, height: H }, await poolImageRgb(pool, i, resize));
  const mask = new Uint8Array(W * H).fill(255);
  const covered = new Uint8Array(W * H);
  for (let r = 0; r < 12; r++) {
    for (const p of layout.pixels(Math.floor(random() * layout.count))) {
      covered[p] = 1;
      mask[p] = label[p] < C ? label[p] : 255;
    }
  }
  for (let p = 0; p < W * H; p++) if (mask[p] < C) bought[mask[p]]++;
  const spread = propagateLabels(mask, segmentation, C, covered);
  for (let p = 0; p < W * H; p++) {
    if (spread[p] >= C || label[p] >= C) continue;
    assigned[spread[p]]++;
    if (spread[p] === label[p]) right[spread[p]]++;
  }
}
const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
for (let c = 0; c < C; c++)
  console.log(
    `${names[c].padEnd(12)} bought ${String(bought[c]).padStart(5)}  trains as ${(assigned[c] / Math.max(1, bought[c])).toFixed(1)}x  right ${((100 * right[c]) / Math.max(1, assigned[c])).toFixed(0)}%`,
  );
console.log(
  `all          bought ${sum(bought)}  trains as ${(sum(assigned) / sum(bought)).toFixed(1)}x  right ${((100 * sum(right)) / sum(assigned)).toFixed(1)}% (superpixels of ~${size} px)`,
);
