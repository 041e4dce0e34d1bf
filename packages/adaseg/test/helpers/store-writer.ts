// A child process for the label store's crash test: labels ROUNDS rounds of region units into a
// store (selection, then the round's labels in one transaction, then the round marked finished),
// resuming from whatever the store says was done. The parent kills it with SIGKILL mid-way.
// Usage: node --import tsx store-writer.ts <store file> [<run name>]
// (Several at once on one store, each with its own run, is how seeds share a store.)
import { LabelStore, type UnitLabels, type UnitPixels } from '../../src/labels/store.js';
import { unitLayout } from '../../src/active/units.js';

export const W = 64;
export const H = 48;
export const IMAGES = 6;
export const ROUNDS = 25;
export const RUN = 'writer/seed-0';

/** The units of round r (deterministic): 12 3x3 regions per image, none twice. */
export function roundUnits(round: number): UnitPixels[] {
  const layout = unitLayout({ kind: 'region', k: 1 }, { width: W, height: H });
  const out: UnitPixels[] = [];
  for (let i = 0; i < IMAGES; i++) {
    for (let j = 0; j < 12; j++) {
      const unit = (((round - 1) * 12 + j) * 7) % layout.count;
      out.push({ image: i, imageId: `img${i}`, unit, pixels: 9, pixelIndices: layout.pixels(unit) });
    }
  }
  return out;
}

/** The "ground truth" value of a pixel. */
export function truth(image: number, pixel: number): number {
  return (image * 31 + pixel * 7) % 5 === 4 ? 255 : (image + pixel) % 4;
}

export function writeRounds(store: LabelStore, onRound?: (round: number) => void, run = RUN): void {
  store.ensureRun(run, {
    strategy: 'writer',
    seed: 0,
    units: { kind: 'region', k: 1 },
    classNames: ['a', 'b', 'c', 'd'],
    images: Array.from({ length: IMAGES }, (_, i) => ({ id: `img${i}`, index: i, width: W, height: H })),
  });
  for (let round = 1; round <= ROUNDS; round++) {
    const state = store.round(run, round);
    if (state?.phase === 'evaluated') continue;
    const units = roundUnits(round);
    store.saveSelection(run, round, units, { scoredWith: null });
    const labels: UnitLabels[] = store
      .selection(run, round)
      .map((u) => ({ imageId: u.imageId, unit: u.unit, pixelIndices: u.pixelIndices, values: Uint8Array.from(u.pixelIndices, (p) => truth(u.image, p)) }));
    if (store.round(run, round)!.phase === 'selected')
      store.labelUnits(run, labels, { round, strategy: 'writer', checkpoint: null, annotator: 'simulated', seconds: 0 }, { completeRound: true });
    store.setPhase(run, round, 'evaluated', { info: { round } });
    onRound?.(round);
  }
}

if (process.argv[2] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const store = LabelStore.open(process.argv[2]);
  writeRounds(store, (r) => process.stdout.write(`round ${r}\n`), process.argv[3] ?? RUN);
  store.close();
  process.stdout.write('done\n');
}
