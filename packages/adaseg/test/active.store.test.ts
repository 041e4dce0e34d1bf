// The label store: atomic writes (a failing change leaves nothing; a process killed mid-write
// leaves whole rounds only and the restarted writer ends where an uninterrupted one does), WAL,
// provenance, queries with leases (one person at a time, expiry re-queues, double answers and bad
// input refused with no change), export of the partial masks.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { decodePng } from '../src/data/png.js';
import { LabelStore, LabelStoreError, type UnitPixels } from '../src/labels/store.js';
import { exportMasks } from './helpers/export-masks.js';
import { IMAGES, H, RUN, ROUNDS, roundUnits, truth, W, writeRounds } from './helpers/store-writer.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'adaseg-store-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const CLASSES = ['a', 'b', 'c'];

function makeStore(name: string, now?: () => number): LabelStore {
  const store = LabelStore.open(join(dir, `${name}.sqlite`), now ? { now } : {});
  store.ensureRun('r/seed-0', {
    strategy: 'entropy',
    seed: 0,
    units: { kind: 'region', k: 0 },
    classNames: CLASSES,
    images: [
      { id: 'a', index: 0, width: 4, height: 3 },
      { id: 'b', index: 1, width: 4, height: 3 },
    ],
  });
  return store;
}

const unit = (imageId: string, image: number, u: number, pixels: number[]): UnitPixels => ({
  image,
  imageId,
  unit: u,
  pixels: pixels.length,
  pixelIndices: Uint32Array.from(pixels),
});

test('a run starts with empty masks; labelling units writes masks, coverage and provenance in one transaction', () => {
  const store = makeStore('basic');
  assert.equal((new Database(store.file, { readonly: true }).pragma('journal_mode', { simple: true }) as string).toLowerCase(), 'wal');
  assert.deepEqual(Array.from(store.mask('r/seed-0', 'a').data), new Array(12).fill(255));
  store.saveSelection('r/seed-0', 1, [unit('a', 0, 1, [1]), unit('b', 1, 5, [5])], { scoredWith: '/ckpt/a.safetensors' });
  store.labelUnits(
    'r/seed-0',
    [
      { imageId: 'a', unit: 1, pixelIndices: Uint32Array.of(1), values: Uint8Array.of(2) },
      { imageId: 'b', unit: 5, pixelIndices: Uint32Array.of(5), values: Uint8Array.of(255) },
    ],
    { round: 1, strategy: 'entropy', checkpoint: '/ckpt/a.safetensors', annotator: 'simulated', seconds: 0 },
    { completeRound: true },
  );
  const a = store.mask('r/seed-0', 'a').data;
  assert.equal(a[1], 2);
  assert.equal(a.filter((v) => v !== 255).length, 1);
  const info = store.run('r/seed-0');
  assert.equal(info.labelledPixels, 1, 'void pixels carry no class');
  assert.equal(info.coveredPixels, 2, 'but count against the budget');
  assert.equal(info.labelledUnits, 2);
  assert.equal(store.round('r/seed-0', 1)!.phase, 'annotated');
  const units = store.labelledUnits('r/seed-0');
  assert.equal(units.length, 2);
  assert.deepEqual(
    { ...units[0], time: 'x' },
    {
      imageId: 'a',
      unit: 1,
      round: 1,
      strategy: 'entropy',
      checkpoint: '/ckpt/a.safetensors',
      annotator: 'simulated',
      time: 'x',
      seconds: 0,
      queryId: null,
      pixels: 1,
    },
  );
  assert.deepEqual([...store.coveredMasks('r/seed-0').keys()], ['a', 'b']);
  // The same run opened with other units or another pool is refused.
  assert.throws(
    () => store.ensureRun('r/seed-0', { strategy: 'entropy', seed: 0, units: { kind: 'region', k: 1 }, classNames: CLASSES, images: [] }),
    /was made with/,
  );
  store.close();
});

test('a change that fails half-way leaves nothing behind (one transaction)', () => {
  const store = makeStore('atomic');
  store.saveSelection('r/seed-0', 1, [unit('a', 0, 0, [0])], { scoredWith: null });
  const before = store.mask('r/seed-0', 'a').data;
  // The second unit's pixel is outside the image: the first unit's labels must not stay.
  assert.throws(
    () =>
      store.labelUnits(
        'r/seed-0',
        [
          { imageId: 'a', unit: 0, pixelIndices: Uint32Array.of(0, 1), values: Uint8Array.of(1, 1) },
          { imageId: 'b', unit: 3, pixelIndices: Uint32Array.of(99), values: Uint8Array.of(1) },
        ],
        { round: 1, strategy: 'entropy', checkpoint: null, annotator: 'simulated', seconds: 0 },
        { completeRound: true },
      ),
    /outside the 12-pixel mask/,
  );
  assert.deepEqual(store.mask('r/seed-0', 'a').data, before);
  assert.equal(store.labelledUnits('r/seed-0').length, 0);
  assert.equal(store.round('r/seed-0', 1)!.phase, 'selected', 'the round is not marked annotated');
  assert.equal(store.run('r/seed-0').coveredPixels, 0);
  // A selection of an unknown image is refused whole too.
  assert.throws(
    () => store.saveSelection('r/seed-0', 2, [unit('a', 0, 2, [2]), unit('zz', 9, 0, [0])], { scoredWith: null }),
    /round 2 selected before round 1 was finished|no image 'zz'/,
  );
  assert.equal(store.round('r/seed-0', 2), undefined);
  store.close();
});

test('a writer killed (SIGKILL) at random points leaves whole rounds only, and the restarted writer ends where an uninterrupted one does', async () => {
  const reference = LabelStore.open(join(dir, 'reference.sqlite'));
  writeRounds(reference);
  const file = join(dir, 'killed.sqlite');
  const script = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'store-writer.ts');
  let kills = 0;
  for (let attempt = 0; attempt < 3; attempt++) {
    const child = spawn(process.execPath, ['--import', 'tsx', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const killAt = 3 + attempt * 6;
    const finished = await new Promise<boolean>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const rounds = out.match(/round \d+/g)?.length ?? 0;
        if (rounds >= killAt && child.exitCode === null && !child.killed) {
          // Somewhere inside the next round's transactions.
          setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 4));
        }
      });
      child.on('exit', () => resolve(out.includes('done')));
    });
    if (!finished) kills++;
    // After every crash: the file is a consistent store.
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();
    const store = LabelStore.open(file);
    const rounds = store.rounds(RUN);
    for (const r of rounds) {
      const labelled = store.labelledUnits(RUN, { round: r.round }).length;
      if (r.phase === 'selected') assert.equal(labelled, 0, `round ${r.round} is selected only: no label of it may exist`);
      else assert.equal(labelled, IMAGES * 12, `round ${r.round} is ${r.phase}: all its labels exist`);
    }
    for (let i = 0; i < IMAGES; i++) {
      const mask = store.mask(RUN, `img${i}`).data;
      const covered = store.coveredMasks(RUN).get(`img${i}`);
      const expected = new Uint8Array(W * H).fill(255);
      for (const r of rounds.filter((x) => x.phase !== 'selected'))
        for (const u of roundUnits(r.round).filter((u) => u.image === i)) for (const p of u.pixelIndices) expected[p] = truth(i, p);
      assert.deepEqual(mask, expected, `image ${i}: exactly the finished rounds' labels`);
      if (covered) for (let p = 0; p < W * H; p++) if (mask[p] !== 255) assert.equal(covered[p], 1);
    }
    store.close();
    if (finished) break;
  }
  assert.ok(kills >= 1, 'the writer was killed at least once');
  // Finish (if the last attempt was killed too) and compare with the uninterrupted writer.
  const store = LabelStore.open(file);
  writeRounds(store);
  assert.equal(store.rounds(RUN).length, ROUNDS);
  for (let i = 0; i < IMAGES; i++) assert.deepEqual(store.mask(RUN, `img${i}`).data, reference.mask(RUN, `img${i}`).data);
  assert.deepEqual(
    store.labelledUnits(RUN).map((u) => [u.round, u.imageId, u.unit]),
    reference.labelledUnits(RUN).map((u) => [u.round, u.imageId, u.unit]),
  );
  store.close();
  reference.close();
});

test('several processes write one new store at once (one per seed, as adaseg run --seeds N): none fails with "database is locked"', async () => {
  const file = join(dir, 'shared.sqlite');
  const script = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'store-writer.ts');
  const runs = ['writer/seed-0', 'writer/seed-1', 'writer/seed-2'];
  const results = await Promise.all(
    runs.map(
      (run) =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const child = spawn(process.execPath, ['--import', 'tsx', script, file, run], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          child.on('exit', (code) => resolve({ code, out, err }));
        }),
    ),
  );
  results.forEach((r, i) => assert.ok(r.code === 0 && r.out.includes('done'), `${runs[i]}: exit ${r.code}\n${r.err}`));
  const store = LabelStore.open(file, { readonly: true });
  for (const run of runs) {
    assert.equal(store.rounds(run).filter((r) => r.phase === 'evaluated').length, ROUNDS, run);
    assert.equal(store.labelledUnits(run).length, ROUNDS * IMAGES * 12, run);
  }
  store.close();
});

test('queries: leased to one person at a time, expired leases re-queue, answers apply once, bad input changes nothing', () => {
  let clock = 1_000_000;
  const store = makeStore('queries', () => clock);
  const run = 'r/seed-0';
  store.saveSelection(run, 1, [unit('a', 0, 0, [0, 1]), unit('a', 0, 1, [2]), unit('b', 1, 4, [4, 5, 6])], { scoredWith: '/c.safetensors' });
  const queries = store.createQueries(
    run,
    1,
    [
      {
        imageId: 'a',
        kind: 'region-class',
        units: [
          { unit: 0, pixelIndices: Uint32Array.of(0, 1) },
          { unit: 1, pixelIndices: Uint32Array.of(2) },
        ],
      },
      { imageId: 'b', kind: 'pixel-paint', units: [{ unit: 4, pixelIndices: Uint32Array.of(4, 5, 6) }] },
    ],
    { strategy: 'entropy', checkpoint: '/c.safetensors' },
  );
  assert.equal(queries.length, 2);
  assert.equal(store.round(run, 1)!.phase, 'querying');
  // Idempotent: the loop restarting writes no second set.
  assert.deepEqual(
    store.createQueries(run, 1, [], { strategy: 'entropy', checkpoint: null }).map((q) => q.id),
    queries.map((q) => q.id),
  );
  const [qa, qb] = queries;
  assert.equal(qa.width, 4);
  assert.deepEqual(Array.from(qa.units[0].pixelIndices), [0, 1]);

  const l1 = store.lease('ann', { seconds: 60, run });
  assert.equal(l1!.id, qa.id);
  assert.equal(l1!.leaseOwner, 'ann');
  const l2 = store.lease('bob', { seconds: 60, run });
  assert.equal(l2!.id, qb.id, 'bob gets the other query');
  assert.equal(store.lease('cid', { seconds: 60, run }), null, 'nothing free');
  assert.deepEqual(store.queryProgress(run, 1), { total: 2, answered: 0, open: 0, leased: 2, cancelled: 0 });
  assert.throws(
    () => store.answer(qa.id, 'bob', { classes: [1, 2] }),
    (e: unknown) => e instanceof LabelStoreError && e.code === 'conflict' && /leased by ann/.test(e.message),
  );
  assert.throws(() => store.lease('cid', { seconds: 60, queryId: qa.id }), /leased by ann/);

  // Bad answers: no change at all.
  const snapshot = () =>
    [store.mask(run, 'a').data.join(), store.mask(run, 'b').data.join(), store.labelledUnits(run).length, store.query(qa.id).status].join('|');
  const before = snapshot();
  assert.throws(() => store.answer(qa.id, 'ann', { classes: [1, 7] }), /class 7 for unit 1 is neither a class id 0..2 nor 255/);
  assert.throws(() => store.answer(qa.id, 'ann', { classes: [1] }), /expected 2 classes/);
  assert.throws(() => store.answer(qa.id, 'ann', { mask: new Uint8Array(12) }), /region-class query/);
  assert.throws(() => store.answer(qb.id, 'bob', { mask: new Uint8Array(5) }), /the mask has 5 values, the image is 4x3 \(12\)/);
  assert.throws(() => store.answer(qb.id, 'bob', { mask: new Uint8Array(12).fill(9) }), /mask value 9 at pixel 4/);
  assert.throws(
    () => store.answer(999, 'bob', { classes: [] }),
    (e: unknown) => e instanceof LabelStoreError && e.code === 'not-found',
  );
  assert.equal(snapshot(), before);

  // ann answers; a second answer is refused.
  clock += 5_000;
  const answered = store.answer(qa.id, 'ann', { classes: [1, 255] }, 12.5);
  assert.equal(answered.status, 'answered');
  assert.equal(answered.answeredBy, 'ann');
  assert.throws(() => store.answer(qa.id, 'ann', { classes: [2, 2] }), /already answered by ann/);
  assert.deepEqual(Array.from(store.mask(run, 'a').data.slice(0, 4)), [1, 1, 255, 255]);
  const prov = store.labelledUnits(run, { imageId: 'a' });
  assert.deepEqual(
    prov.map((p) => [p.unit, p.annotator, p.queryId, p.seconds, p.round, p.checkpoint]),
    [
      [0, 'ann', qa.id, 6.25, 1, '/c.safetensors'],
      [1, 'ann', qa.id, 6.25, 1, '/c.safetensors'],
    ],
  );

  // bob's lease expires: the query is back in the queue, cid takes it, bob can no longer answer.
  clock += 61_000;
  assert.deepEqual(store.queryProgress(run, 1), { total: 2, answered: 1, open: 1, leased: 0, cancelled: 0 });
  const l3 = store.lease('cid', { seconds: 30, run });
  assert.equal(l3!.id, qb.id);
  assert.throws(() => store.answer(qb.id, 'bob', { mask: new Uint8Array(12) }), /leased by cid/);
  store.release(qb.id, 'cid');
  store.lease('bob', { seconds: 60, queryId: qb.id });
  const paint = new Uint8Array(12).fill(2);
  paint[5] = 0;
  store.answer(qb.id, 'bob', { mask: paint }, 3);
  const b = store.mask(run, 'b').data;
  assert.deepEqual(Array.from(b), [255, 255, 255, 255, 2, 0, 2, 255, 255, 255, 255, 255], 'only the queried pixels are taken from the painted mask');
  assert.equal(store.closeRound(run, 1).answered, 2);
  assert.equal(store.round(run, 1)!.phase, 'annotated');
  store.close();
});

test('closing a round cancels its open queries; answers to them are refused', () => {
  const store = makeStore('cancel');
  const run = 'r/seed-0';
  store.saveSelection(run, 1, [unit('a', 0, 0, [0]), unit('b', 1, 0, [0])], { scoredWith: null });
  const [q1, q2] = store.createQueries(
    run,
    1,
    [
      { imageId: 'a', kind: 'region-class', units: [{ unit: 0, pixelIndices: Uint32Array.of(0) }] },
      { imageId: 'b', kind: 'region-class', units: [{ unit: 0, pixelIndices: Uint32Array.of(0) }] },
    ],
    { strategy: 's', checkpoint: null },
  );
  store.lease('ann', { seconds: 60, queryId: q1.id });
  store.answer(q1.id, 'ann', { classes: [0] });
  const progress = store.closeRound(run, 1);
  assert.deepEqual(progress, { total: 2, answered: 1, open: 0, leased: 0, cancelled: 1 });
  assert.throws(() => store.answer(q2.id, 'ann', { classes: [0] }), /cancelled/);
  assert.equal(store.mask(run, 'b').data[0], 255);
  store.close();
});

test('export: one palette PNG per image (index = train id, 255 unknown) and labels.json with provenance', () => {
  const store = makeStore('export');
  const run = 'r/seed-0';
  store.saveSelection(run, 1, [unit('a', 0, 3, [3, 7])], { scoredWith: null });
  store.labelUnits(run, [{ imageId: 'a', unit: 3, pixelIndices: Uint32Array.of(3, 7), values: Uint8Array.of(0, 2) }], {
    round: 1,
    strategy: 'entropy',
    checkpoint: null,
    annotator: 'simulated',
    seconds: 0,
  });
  const out = join(dir, 'export');
  const { files } = exportMasks(store, run, out);
  assert.equal(files.length, 2);
  const png = decodePng(readFileSync(join(out, 'a.png')));
  assert.equal(png.width, 4);
  const values = Array.from(png.data as Uint8Array);
  assert.equal(values[3], 0);
  assert.equal(values[7], 2);
  assert.equal(values.filter((v) => v === 255).length, 10);
  const labels = JSON.parse(readFileSync(join(out, 'labels.json'), 'utf8')) as { labelled: { unit: number }[]; classNames: string[] };
  assert.deepEqual(labels.classNames, CLASSES);
  assert.equal(labels.labelled[0].unit, 3);
  assert.ok(existsSync(join(out, 'b.png')));
  store.close();
  // Read-only opening (the studio's reader) works and refuses other files.
  const ro = LabelStore.open(join(dir, 'export.sqlite'), { readonly: true });
  assert.equal(ro.runs().length, 1);
  ro.close();
});
