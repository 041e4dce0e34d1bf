// The synthetic domain pair: deterministic, any size, exact labels; the two styles differ
// measurably in colour statistics while their labels come from one scene distribution.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspectDataset, renderScene, SYNTHETIC_CLASSES, syntheticPair } from '../src/data/index.js';

function meanColour(image: Uint8Array): [number, number, number] {
  const s = [0, 0, 0];
  for (let i = 0; i < image.length; i += 3) for (let c = 0; c < 3; c++) s[c] += image[i + c];
  const n = image.length / 3;
  return [s[0] / n, s[1] / n, s[2] / n];
}

function classFrequencies(labels: Uint8Array[]): number[] {
  const counts = new Array(SYNTHETIC_CLASSES.names.length).fill(0);
  let total = 0;
  for (const l of labels)
    for (const v of l) {
      counts[v]++;
      total++;
    }
  return counts.map((c) => c / total);
}

/**
 * Mean absolute difference between horizontally adjacent pixels of the same class, relative to the
 * mean brightness: about 0 for flat colours, high for texture and noise.
 */
function roughness(image: Uint8Array, label: Uint8Array, width: number): number {
  let s = 0,
    n = 0,
    sum = 0;
  for (let p = 1; p < label.length; p++) {
    for (let c = 0; c < 3; c++) sum += image[p * 3 + c];
    if (p % width === 0 || label[p] !== label[p - 1]) continue;
    for (let c = 0; c < 3; c++) s += Math.abs(image[p * 3 + c] - image[p * 3 - 3 + c]);
    n += 3;
  }
  return s / n / (sum / (3 * label.length));
}

describe('synthetic domain pair', () => {
  test('deterministic from the seed, any size, labels within the classes', () => {
    const a = renderScene({ seed: 42, width: 50, height: 30, style: 'target' });
    const b = renderScene({ seed: 42, width: 50, height: 30, style: 'target' });
    assert.deepEqual(a.image, b.image);
    assert.deepEqual(a.label, b.label);
    const c = renderScene({ seed: 43, width: 50, height: 30, style: 'target' });
    assert.notDeepEqual(c.label, a.label);
    for (const [w, h] of [
      [1, 1],
      [7, 300],
      [320, 240],
    ]) {
      const s = renderScene({ seed: 1, width: w, height: h, style: 'source' });
      assert.equal(s.image.length, w * h * 3);
      assert.equal(s.label.length, w * h);
      assert.ok(s.label.every((v) => v < SYNTHETIC_CLASSES.names.length));
    }
    assert.throws(() => renderScene({ seed: 1, width: 0, height: 4, style: 'source' }), /size/);
  });

  test('one scene, two styles: same labels, different looks', () => {
    const src = renderScene({ seed: 7, width: 96, height: 64, style: 'source' });
    const tgt = renderScene({ seed: 7, width: 96, height: 64, style: 'target' });
    assert.deepEqual(src.label, tgt.label);
    assert.notDeepEqual(src.image, tgt.image);
    // Source is flat: within one object all pixels share one colour.
    const first = new Map<number, string>();
    let flat = true;
    for (let i = 0; i < src.label.length; i++) {
      if (src.label[i] !== 0) continue; // sky is a single object
      const key = `${src.image[i * 3]},${src.image[i * 3 + 1]},${src.image[i * 3 + 2]}`;
      if (!first.has(0)) first.set(0, key);
      else if (first.get(0) !== key) flat = false;
    }
    assert.ok(flat, 'source sky is one flat colour');
  });

  test('styles differ in colour statistics; label distributions match', () => {
    const { source, target } = syntheticPair({ count: 48, width: 64, height: 48, seed: 3 });
    assert.deepEqual(source.classes, target.classes);
    const render = (ds: typeof source) => ds.samples.map((s) => (s.image.kind === 'synthetic' ? renderScene(s.image.scene) : assert.fail()));
    const S = render(source);
    const T = render(target);
    // Different scenes in the two halves.
    assert.notDeepEqual(S[0].label, T[0].label);
    const mS = meanColour(Buffer.concat(S.map((s) => s.image)));
    const mT = meanColour(Buffer.concat(T.map((s) => s.image)));
    const brightness = (m: number[]) => (m[0] + m[1] + m[2]) / 3;
    assert.ok(brightness(mT) < 0.7 * brightness(mS), `target darker: ${mT} vs ${mS}`);
    // Colour cast: the blue share of the mean colour rises in the target.
    assert.ok(mT[2] / brightness(mT) > mS[2] / brightness(mS) + 0.05, `target cast towards blue: ${mT} vs ${mS}`);
    const rS = S.reduce((a, s) => a + roughness(s.image, s.label, 64), 0) / S.length;
    const rT = T.reduce((a, s) => a + roughness(s.image, s.label, 64), 0) / T.length;
    assert.ok(rT > 3 * rS, `target textured and noisy: roughness ${rT} vs ${rS}`);
    const fS = classFrequencies(S.map((s) => s.label));
    const fT = classFrequencies(T.map((s) => s.label));
    for (let k = 0; k < fS.length; k++) {
      assert.ok(fS[k] > 0.005 && fT[k] > 0.005, `class ${SYNTHETIC_CLASSES.names[k]} present in both`);
      assert.ok(Math.abs(fS[k] - fT[k]) < 0.05, `class ${SYNTHETIC_CLASSES.names[k]}: ${fS[k].toFixed(3)} vs ${fT[k].toFixed(3)}`);
    }
  });

  test('cheap: hundreds of small scenes per second', () => {
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) renderScene({ seed: i, width: 64, height: 48, style: i % 2 ? 'source' : 'target' });
    const ms = (performance.now() - t0) / 200;
    assert.ok(ms < 5, `${ms.toFixed(2)} ms per 64x48 scene`);
  });

  test('inspect works on the synthetic dataset', async () => {
    const { target } = syntheticPair({ count: 4, width: 32, height: 24 });
    const r = await inspectDataset(target);
    assert.equal(r.counts.samples, 4);
    assert.deepEqual(r.imageSizes, [{ width: 32, height: 24, count: 4 }]);
    assert.equal(r.problems.length, 0);
    assert.equal(r.labelPixels, 4 * 32 * 24);
  });
});
