// The studio's overlays: overlayMaps turns probabilities into predicted ids and normalised entropy;
// a run with annotator: human writes, per queried image of a round, the scoring model's prediction
// (palette PNG, index = train id) and uncertainty (gray PNG) into the run folder, only for the
// queried images; the server serves them (palette, ids, uncertainty) and answers a clear 404 when
// a file is missing or a round has none.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { parseExperimentConfig, resizeTransforms } from '../src/experiment/config.js';
import { runExperiment } from '../src/experiment/loop.js';
import { overlayMaps } from '../src/active/predictions.js';
import { OVERLAYS_INFO_KEY, overlayFileName } from '../src/report/overlays.js';
import { LabelStore } from '../src/labels/store.js';
import { startAnnotateServer, UserStore } from '../src/annotate/index.js';
import { numClasses, withoutLabel, withSamples } from '../src/data/dataset.js';
import { loadDataset } from '../src/data/formats/index.js';
import { DataLoader } from '../src/data/loader.js';
import { decodePng } from '../src/data/png.js';
import { buildModel } from '../src/models/config.js';
import { loadModelWeights } from '../src/train/checkpoint.js';

torch.setNumThreads(1);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'adaseg-overlays-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('overlayMaps: argmax ids and entropy / log C scaled to 0..255', () => {
  // Two 1x2 images, 4 classes: certain class 2 | uniform, and certain class 0 | half 1, half 3.
  const p = [
    [
      [0, 0.25],
      [0, 0.25],
      [1, 0.25],
      [0, 0.25],
    ],
    [
      [1, 0],
      [0, 0.5],
      [0, 0],
      [0, 0.5],
    ],
  ];
  const data = new Float32Array(2 * 4 * 2);
  p.forEach((img, n) => img.forEach((plane, c) => plane.forEach((v, x) => (data[n * 8 + c * 2 + x] = v))));
  const maps = torch.tidy(() => overlayMaps(torch.tensor(data, { shape: [2, 4, 1, 2] })));
  assert.deepEqual(Array.from(maps[0].prediction), [2, 0]);
  assert.deepEqual(Array.from(maps[0].uncertainty), [0, 255]);
  assert.equal(maps[1].prediction[0], 0);
  assert.ok(maps[1].prediction[1] === 1 || maps[1].prediction[1] === 3);
  assert.deepEqual(Array.from(maps[1].uncertainty), [0, 128]); // log 2 / log 4 = 0.5
});

test("a human-annotated round writes the scoring model's prediction and uncertainty for exactly the queried images; the server serves them", async () => {
  const out = join(dir, 'run');
  const synthetic = (style: string, count: number, seed: number) => ({ format: 'synthetic', style, count, width: 32, height: 24, seed });
  const config = parseExperimentConfig(
    {
      name: 'overlays',
      output: out,
      seeds: [0],
      model: { kind: 'unet', baseWidth: 4, depth: 2 },
      data: {
        source: synthetic('source', 4, 0),
        pool: synthetic('target', 6, 100),
        val: synthetic('target', 2, 500),
        resolution: { width: 24, height: 18 },
        batchSize: 2,
        workers: 0,
      },
      source: { train: { iterations: 4, optimizer: { kind: 'adam', lr: 0.01 } } },
      active: { units: { kind: 'region', k: 1 }, budget: { kind: 'pixelPercent', total: 4, rounds: 1 }, strategies: ['entropy'] },
      annotator: { kind: 'human', pollSeconds: 0.02, minFraction: 1, unitsPerQuery: 3 },
      rounds: { train: { iterations: 2, optimizer: { kind: 'adam', lr: 0.001 } } },
      baselines: [],
      report: { examples: 0 },
    },
    dir,
  );
  // A scripted studio that answers every query (the loop waits for all of them).
  let studio: LabelStore | undefined;
  const timer = setInterval(() => {
    if (studio === undefined) {
      if (!existsSync(join(out, 'labels.sqlite'))) return;
      studio = LabelStore.open(join(out, 'labels.sqlite'));
    }
    for (let q = studio.lease('studio', { seconds: 10 }); q !== null; q = studio.lease('studio', { seconds: 10 }))
      studio.answer(q.id, 'studio', { classes: q.units.map(() => 1) }, 1);
  }, 10);
  try {
    assert.equal((await runExperiment(config)).stopped, false);
  } finally {
    clearInterval(timer);
    studio?.close();
  }

  const run = 'entropy/seed-0';
  const store = LabelStore.open(join(out, 'labels.sqlite'));
  const users = UserStore.open(join(out, 'labels.sqlite'));
  const token = users.add('ann', 'annotator');
  const server = await startAnnotateServer({ store, users, outputDir: out, log: () => {} });
  try {
    const round = store.round(run, 1)!;
    const folder = round.info[OVERLAYS_INFO_KEY];
    assert.equal(folder, 'seed-0/entropy/round-1/overlays');
    const queries = store.queries({ run, round: 1 });
    assert.ok(queries.length >= 2, `${queries.length} queries`);
    const images = [...new Map(queries.map((q) => [q.imageIndex, q])).values()];
    // Only the queried images, two files each (no temporary files left behind).
    assert.deepEqual(
      readdirSync(join(out, folder as string)).sort(),
      images
        .flatMap((q) => [
          overlayFileName({ index: q.imageIndex, id: q.imageId }, 'prediction'),
          overlayFileName({ index: q.imageIndex, id: q.imageId }, 'uncertainty'),
        ])
        .sort(),
    );

    // The files are the scoring checkpoint's argmax and normalised entropy on the working-size image.
    const pool = await loadDataset(config.data.pool);
    const C = numClasses(pool);
    const model = buildModel(config.model, C);
    torch.tidy(() => model.loadStateDict(loadModelWeights(round.scoredWith!)));
    model.eval();
    for (const q of images) {
      const prediction = decodePng(readFileSync(join(out, folder as string, overlayFileName({ index: q.imageIndex, id: q.imageId }, 'prediction'))));
      assert.deepEqual([prediction.width, prediction.height, prediction.colorType], [24, 18, 3]);
      const uncertainty = decodePng(readFileSync(join(out, folder as string, overlayFileName({ index: q.imageIndex, id: q.imageId }, 'uncertainty'))));
      assert.deepEqual([uncertainty.width, uncertainty.height, uncertainty.colorType], [24, 18, 0]);
      const loader = new DataLoader(withSamples(pool, [withoutLabel(pool.samples[q.imageIndex])]), {
        batchSize: 1,
        workers: 0,
        transforms: resizeTransforms(config),
        normalize: config.data.normalize,
      });
      for await (const batch of loader.epoch(0)) {
        const [expected] = torch.inferenceMode(() => torch.tidy(() => overlayMaps(model.forward(batch.images).logits.softmax(1))));
        batch.dispose();
        assert.deepEqual(Array.from(prediction.data), Array.from(expected.prediction), `prediction of ${q.imageId}`);
        for (let p = 0; p < expected.uncertainty.length; p++)
          assert.ok(Math.abs(uncertainty.data[p] - expected.uncertainty[p]) <= 1, `uncertainty of ${q.imageId} at ${p}`);
      }
      await loader.close();
    }
    model.dispose();

    // Served: the palette PNG as written, the ids as gray values, the uncertainty.
    const get = (path: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const q = queries[0];
    const file = join(out, folder as string, overlayFileName({ index: q.imageIndex, id: q.imageId }, 'prediction'));
    const palette = await get(`/api/queries/${q.id}/prediction`);
    assert.equal(palette.status, 200);
    assert.equal(palette.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await palette.arrayBuffer()), readFileSync(file));
    const ids = decodePng(new Uint8Array(await (await get(`/api/queries/${q.id}/prediction?format=ids`)).arrayBuffer()));
    assert.deepEqual([ids.colorType, ids.bitDepth], [0, 8]);
    assert.deepEqual(Array.from(ids.data), Array.from(decodePng(readFileSync(file)).data));
    const unc = await get(`/api/queries/${q.id}/uncertainty`);
    assert.equal(unc.status, 200);
    const detail = (await (await get(`/api/queries/${q.id}`)).json()) as { query: { links: Record<string, string>; answer: { classes: number[] } } };
    assert.equal(detail.query.links.prediction, `/api/queries/${q.id}/prediction`);
    assert.deepEqual(
      detail.query.answer.classes,
      q.units.map(() => 1),
    );

    // Bad format: 400; a missing file: a 404 naming it; an unknown query: 404.
    const bad = await get(`/api/queries/${q.id}/prediction?format=jpeg`);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /'format' must be 'palette'.*or 'ids'/);
    rmSync(join(out, folder as string, overlayFileName({ index: q.imageIndex, id: q.imageId }, 'uncertainty')));
    const missing = await get(`/api/queries/${q.id}/uncertainty`);
    assert.equal(missing.status, 404);
    const body = (await missing.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'not-found');
    assert.match(body.error.message, new RegExp(`the uncertainty map of query ${q.id} is missing: expected seed-0/entropy/round-1/overlays/${q.imageIndex}-`));
    assert.equal((await get('/api/queries/9999/prediction')).status, 404);
  } finally {
    await server.close();
    users.close();
    store.close();
  }
});
