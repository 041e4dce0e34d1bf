// The annotation server's API, in process on 127.0.0.1 (ephemeral port) over a label store made
// here: tokens and roles, leasing (one person at a time, expiry re-queues), answering (double
// answers refused), bad input (4xx with a clear message and no store change), images and masks,
// path safety, and a load test of 20 concurrent annotators.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { LabelStore, type NewQuery, type UnitPixels } from '../src/labels/store.js';
import { UserStore, startAnnotateServer, datasetImages, insideRoot, type RunningServer } from '../src/annotate/index.js';
import type { DatasetDescription } from '../src/data/dataset.js';

const RUN = 'r/seed-0';
const W = 16;
const H = 12;
const CLASSES = ['road', 'car', 'sky'];

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'adaseg-annotate-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The pixels of 4x4 block `u` (12 per image). */
const block = (u: number): Uint32Array => {
  const bx = (u % 4) * 4,
    by = Math.floor(u / 4) * 4;
  const out: number[] = [];
  for (let y = by; y < by + 4; y++) for (let x = bx; x < bx + 4; x++) out.push(y * W + x);
  return Uint32Array.from(out);
};

interface Fixture {
  store: LabelStore;
  users: UserStore;
  server: RunningServer;
  tokens: { ann: string; bob: string; viewer: string };
  clock: { t: number };
  close(): Promise<void>;
}

/** A store with `images` images and `perImage` one-unit queries each (even: region-class, odd: pixel-paint). */
async function fixture(name: string, options: { images?: number; perImage?: number; bodyLimitBytes?: number } = {}): Promise<Fixture> {
  const images = options.images ?? 2,
    perImage = options.perImage ?? 2;
  const clock = { t: 1_700_000_000_000 };
  const file = join(dir, `${name}.sqlite`);
  const store = LabelStore.open(file, { now: () => clock.t });
  store.ensureRun(RUN, {
    strategy: 'entropy',
    seed: 0,
    units: { kind: 'region', k: 2 },
    classNames: CLASSES,
    images: Array.from({ length: images }, (_, i) => ({ id: `img${i}`, index: i, width: W, height: H })),
  });
  const selection: UnitPixels[] = [];
  const queries: NewQuery[] = [];
  let n = 0;
  for (let i = 0; i < images; i++) {
    for (let u = 0; u < perImage; u++) {
      selection.push({ image: i, imageId: `img${i}`, unit: u, pixels: 16, pixelIndices: block(u) });
      queries.push({ imageId: `img${i}`, kind: n++ % 2 === 0 ? 'region-class' : 'pixel-paint', units: [{ unit: u, pixelIndices: block(u) }] });
    }
  }
  store.saveSelection(RUN, 1, selection, { scoredWith: null });
  store.createQueries(RUN, 1, queries, { strategy: 'entropy', checkpoint: '/c.safetensors' });
  const users = UserStore.open(file);
  const tokens = { ann: users.add('ann', 'annotator'), bob: users.add('bob', 'annotator'), viewer: users.add('viewer', 'readonly') };
  const rgb = (index: number) => ({ width: W, height: H, data: new Uint8Array(W * H * 3).fill(index * 10) });
  const server = await startAnnotateServer({
    store,
    users,
    images: async (_run, im) => rgb(im.index),
    now: () => clock.t,
    log: () => {},
    ...(options.bodyLimitBytes ? { bodyLimitBytes: options.bodyLimitBytes } : {}),
  });
  return {
    store,
    users,
    server,
    tokens,
    clock,
    async close() {
      await server.close();
      users.close();
      store.close();
    },
  };
}

async function call(
  f: Fixture,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
  raw?: string,
): Promise<{ status: number; json: any; bytes: Buffer; type: string }> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${f.server.url}${path}`, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
  const bytes = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, json: type.includes('json') ? JSON.parse(bytes.toString('utf8')) : null, bytes, type };
}

/** Everything an answer could change. */
const snapshot = (store: LabelStore) =>
  JSON.stringify({
    units: store.labelledUnits(RUN),
    masks: store.images(RUN).map((im) => Buffer.from(store.mask(RUN, im.id).data).toString('base64')),
    queries: store.queries({ run: RUN, units: false }),
  });

test('every API call needs a token; readonly users can look but not lease or answer; errors carry no stack', async () => {
  const f = await fixture('auth');
  try {
    for (const [token, status] of [
      [null, 401],
      ['nope-not-a-token', 401],
    ] as const) {
      const r = await call(f, token, 'GET', '/api/queue');
      assert.equal(r.status, status);
      assert.match(r.json.error.message, /token/);
    }
    assert.equal((await call(f, f.tokens.viewer, 'GET', '/api/me')).json.role, 'readonly');
    const queue = await call(f, f.tokens.viewer, 'GET', '/api/queue');
    assert.equal(queue.status, 200);
    assert.equal(queue.json.rounds[0].round, 1);
    assert.equal(queue.json.rounds[0].queries.length, 4);
    const before = snapshot(f.store);
    const lease = await call(f, f.tokens.viewer, 'POST', '/api/lease', {});
    assert.equal(lease.status, 403);
    assert.match(lease.json.error.message, /readonly/);
    assert.equal((await call(f, f.tokens.viewer, 'POST', '/api/queries/1/answer', { classes: [0] })).status, 403);
    assert.equal(snapshot(f.store), before);
    const missing = await call(f, f.tokens.ann, 'GET', '/api/nothing-here');
    assert.equal(missing.status, 404);
    for (const r of [lease, missing]) assert.doesNotMatch(JSON.stringify(r.json), /\n\s+at |\.ts:\d+/);
    // A removed user's token stops working.
    f.users.remove('bob');
    assert.equal((await call(f, f.tokens.bob, 'GET', '/api/me')).status, 401);
  } finally {
    await f.close();
  }
});

test('leasing gives each query to one person; answering writes the labels once; a double answer is refused', async () => {
  const f = await fixture('lease');
  try {
    const a = await call(f, f.tokens.ann, 'POST', '/api/lease', {});
    assert.equal(a.status, 200);
    const qa = a.json.query;
    assert.equal(qa.leasedBy, 'ann');
    assert.equal(qa.kind, 'region-class');
    assert.deepEqual(qa.classNames, CLASSES);
    assert.equal(qa.width, W);
    const b = await call(f, f.tokens.bob, 'POST', '/api/lease', {});
    assert.notEqual(b.json.query.id, qa.id);
    // Bob can neither lease nor answer Ann's query.
    const steal = await call(f, f.tokens.bob, 'POST', '/api/lease', { queryId: qa.id });
    assert.equal(steal.status, 409);
    assert.match(steal.json.error.message, /leased by ann/);
    const before = snapshot(f.store);
    const wrongPerson = await call(f, f.tokens.bob, 'POST', `/api/queries/${qa.id}/answer`, { classes: [1] });
    assert.equal(wrongPerson.status, 409);
    assert.equal(snapshot(f.store), before);

    const ok = await call(f, f.tokens.ann, 'POST', `/api/queries/${qa.id}/answer`, { classes: [1], seconds: 4.5 });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.query.status, 'answered');
    assert.equal(ok.json.progress.answered, 1);
    const mask = f.store.mask(RUN, 'img0').data;
    for (const p of block(0)) assert.equal(mask[p], 1);
    const [unit] = f.store.labelledUnits(RUN);
    assert.equal(unit.annotator, 'ann');
    assert.equal(unit.seconds, 4.5);
    assert.equal(unit.queryId, qa.id);

    const after1 = snapshot(f.store);
    const again = await call(f, f.tokens.ann, 'POST', `/api/queries/${qa.id}/answer`, { classes: [2] });
    assert.equal(again.status, 409);
    assert.match(again.json.error.message, /already answered by ann/);
    assert.equal(snapshot(f.store), after1);

    // A pixel-paint query takes a mask of the image's size; only its pixels are used.
    const paint = await call(f, f.tokens.ann, 'POST', '/api/lease', { queryId: 4 });
    assert.equal(paint.json.query.kind, 'pixel-paint');
    const m = new Uint8Array(W * H).fill(2);
    const painted = await call(f, f.tokens.ann, 'POST', `/api/queries/${paint.json.query.id}/answer`, { mask: Buffer.from(m).toString('base64') });
    assert.equal(painted.status, 200);
    const img1 = f.store.mask(RUN, 'img1').data;
    for (const p of block(1)) assert.equal(img1[p], 2);
    assert.equal(img1.filter((v) => v !== 255).length, 16);
    // Leasing again gives back the query one already holds (a reload resumes it).
    assert.equal((await call(f, f.tokens.bob, 'POST', '/api/lease', {})).json.query.id, b.json.query.id);

    // Skip/release puts a query back; progress per round counts it open again.
    assert.equal((await call(f, f.tokens.bob, 'POST', `/api/queries/${b.json.query.id}/skip`)).status, 200);
    const progress = await call(f, f.tokens.viewer, 'GET', '/api/progress');
    assert.deepEqual(progress.json.runs[0].rounds[0].queries, { total: 4, answered: 2, open: 2, leased: 0, cancelled: 0 });
    assert.equal(progress.json.runs[0].rounds[0].phase, 'querying');
    assert.equal((await call(f, f.tokens.bob, 'POST', `/api/queries/${b.json.query.id}/release`)).status, 409);
  } finally {
    await f.close();
  }
});

test('an expired lease puts the query back in the queue; the old holder can no longer answer it', async () => {
  const f = await fixture('expiry', { images: 1, perImage: 1 });
  try {
    const a = await call(f, f.tokens.ann, 'POST', '/api/lease', { seconds: 30 });
    assert.equal(a.json.query.id, 1);
    assert.equal((await call(f, f.tokens.bob, 'POST', '/api/lease', {})).json.query, null);
    f.clock.t += 31_000;
    const queue = await call(f, f.tokens.viewer, 'GET', '/api/queue');
    assert.equal(queue.json.rounds[0].queries[0].leasedBy, null);
    assert.equal(queue.json.rounds[0].progress.open, 1);
    const b = await call(f, f.tokens.bob, 'POST', '/api/lease', {});
    assert.equal(b.json.query.id, 1);
    assert.equal(b.json.query.leasedBy, 'bob');
    const late = await call(f, f.tokens.ann, 'POST', '/api/queries/1/answer', { classes: [0] });
    assert.equal(late.status, 409);
    assert.equal(f.store.labelledUnits(RUN).length, 0);
    assert.equal((await call(f, f.tokens.bob, 'POST', '/api/queries/1/answer', { classes: [0] })).status, 200);
    assert.equal(f.store.query(1).answeredBy, 'bob');
  } finally {
    await f.close();
  }
});

test('bad input is refused with a 4xx and a clear message, and changes nothing', async () => {
  const f = await fixture('bad');
  const small = await fixture('bad-small', { bodyLimitBytes: 512 });
  try {
    const region = (await call(f, f.tokens.ann, 'POST', '/api/lease', {})).json.query;
    const paint = (await call(f, f.tokens.ann, 'POST', '/api/lease', { queryId: 2 })).json.query;
    assert.equal(region.kind, 'region-class');
    assert.equal(paint.kind, 'pixel-paint');
    const before = snapshot(f.store);
    const cases: [string, string, unknown, number, RegExp, string?][] = [
      ['wrong class id', `/api/queries/${region.id}/answer`, { classes: [7] }, 422, /class 7 .*neither a class id 0\.\.2 nor 255/],
      ['too many classes', `/api/queries/${region.id}/answer`, { classes: [0, 1] }, 422, /expected 1 classes, got 2/],
      ['class not an integer', `/api/queries/${region.id}/answer`, { classes: ['car'] }, 400, /integer class ids/],
      ['mask for a region query', `/api/queries/${region.id}/answer`, { mask: Buffer.alloc(W * H).toString('base64') }, 422, /answer with one class per unit/],
      [
        'mask of the wrong size',
        `/api/queries/${paint.id}/answer`,
        { mask: Buffer.alloc(10).toString('base64') },
        422,
        /the mask has 10 values, the image is 16x12/,
      ],
      ['mask with a bad class', `/api/queries/${paint.id}/answer`, { mask: Buffer.alloc(W * H, 9).toString('base64') }, 422, /mask value 9/],
      ['mask not base64', `/api/queries/${paint.id}/answer`, { mask: '%%%' }, 400, /base64/],
      ['neither classes nor mask', `/api/queries/${paint.id}/answer`, {}, 400, /needs 'classes'.*or 'mask'/],
      ['both', `/api/queries/${paint.id}/answer`, { classes: [0], mask: 'AA==' }, 400, /not both/],
      ['unknown field', `/api/queries/${region.id}/answer`, { classes: [0], evil: 1 }, 400, /unknown field/],
      ['negative seconds', `/api/queries/${region.id}/answer`, { classes: [0], seconds: -1 }, 400, /seconds/],
      ['unknown query', '/api/queries/9999/answer', { classes: [0] }, 404, /no query 9999/],
      ['query id not a number', '/api/queries/abc/answer', { classes: [0] }, 400, /positive integer/],
      ['query id with a path', '/api/queries/..%2F..%2Fetc/answer', { classes: [0] }, 400, /positive integer/],
      ['invalid JSON', `/api/queries/${region.id}/answer`, undefined, 400, /not valid JSON/, '{"classes": [0'],
      ['JSON array body', `/api/queries/${region.id}/answer`, undefined, 400, /JSON object/, '[0]'],
      ['lease seconds out of range', '/api/lease', { seconds: 10 ** 9 }, 400, /'seconds' must be an integer/],
    ];
    for (const [what, path, body, status, message, raw] of cases) {
      const r = await call(f, f.tokens.ann, 'POST', path, body, raw);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
      assert.match(r.json.error.message, message, what);
      assert.doesNotMatch(JSON.stringify(r.json), /\n\s+at |\.ts:\d+/, what);
    }
    // The two leases were taken before the snapshot; nothing after changed the store.
    assert.equal(snapshot(f.store), before);
    // Unknown query on GET routes, and a round without overlays (this store was not made by the loop).
    assert.equal((await call(f, f.tokens.ann, 'GET', '/api/queries/9999')).status, 404);
    assert.equal((await call(f, f.tokens.ann, 'GET', '/api/queries/9999/image')).status, 404);
    const noPrediction = await call(f, f.tokens.ann, 'GET', `/api/queries/${region.id}/prediction`);
    assert.equal(noPrediction.status, 404);
    assert.match(noPrediction.json.error.message, /has no model prediction: round 1 of run 'r\/seed-0' was selected without overlays/);
    // A body over the limit: 413 before anything is parsed.
    const q = (await call(small, small.tokens.ann, 'POST', '/api/lease', {})).json.query;
    const smallBefore = snapshot(small.store);
    const big = await call(small, small.tokens.ann, 'POST', `/api/queries/${q.id}/answer`, { classes: new Array(1000).fill(0) });
    assert.equal(big.status, 413);
    assert.match(big.json.error.message, /larger than 512 bytes/);
    assert.equal(snapshot(small.store), smallBefore);
  } finally {
    await f.close();
    await small.close();
  }
});

test('a query serves its image, unit mask and outline as PNGs of the working size', async () => {
  const f = await fixture('images');
  try {
    const image = await call(f, f.tokens.viewer, 'GET', '/api/queries/3/image');
    assert.equal(image.status, 200);
    assert.equal(image.type, 'image/png');
    const rgb = await sharp(image.bytes).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([rgb.info.width, rgb.info.height, rgb.info.channels], [W, H, 3]);
    assert.equal(rgb.data[0], 10); // query 3 is on img1
    const mask = await sharp((await call(f, f.tokens.viewer, 'GET', '/api/queries/1/mask')).bytes)
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.deepEqual([mask.info.width, mask.info.height], [W, H]);
    const inside = new Set(block(0));
    for (let p = 0; p < W * H; p++) assert.equal(mask.data[p * mask.info.channels], inside.has(p) ? 1 : 0);
    const outline = await sharp((await call(f, f.tokens.viewer, 'GET', '/api/queries/1/mask?outline=1')).bytes)
      .raw()
      .toBuffer({ resolveWithObject: true });
    const edge = Array.from({ length: W * H }, (_, p) => outline.data[p * outline.info.channels]);
    assert.equal(edge.filter((v) => v === 255).length, 12); // the border of a 4x4 block
    assert.equal(edge[1 * W + 1], 0); // its inside
  } finally {
    await f.close();
  }
});

test('dataset images are read only from inside the dataset root', async () => {
  const root = join(dir, 'dataset');
  mkdirSync(join(root, 'images'), { recursive: true });
  writeFileSync(
    join(dir, 'outside.png'),
    await sharp({ create: { width: W, height: H, channels: 3, background: '#fff' } })
      .png()
      .toBuffer(),
  );
  await sharp({ create: { width: W, height: H, channels: 3, background: '#f00' } })
    .png()
    .toFile(join(root, 'images', 'in.png'));
  symlinkSync(join(dir, 'outside.png'), join(root, 'images', 'link.png'));
  assert.equal(insideRoot(root, join(root, 'images', 'in.png')), true);
  assert.equal(insideRoot(root, join(root, '..', 'outside.png')), false);
  assert.equal(insideRoot(root, join(root, 'images', 'link.png')), false);
  assert.equal(insideRoot(root, '/etc/passwd'), false);
  const sample = (id: string, path: string) => ({ id, image: { kind: 'file', path }, label: { kind: 'none' } });
  const pool = {
    name: 'pool',
    root,
    samples: [sample('in', join(root, 'images', 'in.png')), sample('up', join(root, '..', 'outside.png')), sample('link', join(root, 'images', 'link.png'))],
  } as unknown as DatasetDescription;
  const images = datasetImages(pool, []);
  const inImage = await images(RUN, { index: 0, id: 'in', width: W, height: H });
  assert.equal(inImage.data[0], 255);
  for (const [index, id] of [
    [1, 'up'],
    [2, 'link'],
  ] as const)
    await assert.rejects(images(RUN, { index, id, width: W, height: H }), /outside the dataset root/);
  await assert.rejects(images(RUN, { index: 0, id: 'other', width: W, height: H }), /is not 'other'/);
});

test('load: 20 concurrent annotators answer 400 queries; every answer is stored exactly once', async () => {
  const f = await fixture('load', { images: 40, perImage: 10 });
  const people = 20;
  try {
    const tokens: string[] = [];
    for (let i = 0; i < people; i++) tokens.push(f.users.add(`p${i}`, 'annotator'));
    const answered = new Map<number, string>();
    let refused = 0;
    const latencies: number[] = [];
    const started = performance.now();
    const worker = async (i: number) => {
      for (let step = 0; step < 1000; step++) {
        const lease = await call(f, tokens[i], 'POST', '/api/lease', { seconds: 60 });
        assert.equal(lease.status, 200);
        const q = lease.json.query;
        if (q === null) return;
        // Now and then someone skips, or also tries a query that someone else holds.
        if (step % 7 === 3) {
          assert.equal((await call(f, tokens[i], 'POST', `/api/queries/${q.id}/skip`)).status, 200);
          continue;
        }
        if (step % 5 === 2 && q.id > 1) {
          const other = await call(f, tokens[i], 'POST', `/api/queries/${q.id - 1}/answer`, { classes: [0] });
          assert.equal(other.status, 409, JSON.stringify(other.json));
          refused++;
        }
        const body = q.kind === 'region-class' ? { classes: [q.id % 3] } : { mask: Buffer.alloc(W * H, q.id % 3).toString('base64') };
        const t0 = performance.now();
        const r = await call(f, tokens[i], 'POST', `/api/queries/${q.id}/answer`, { ...body, seconds: 1 });
        latencies.push(performance.now() - t0);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(answered.has(q.id), false, `query ${q.id} answered twice`);
        answered.set(q.id, `p${i}`);
      }
      throw new Error('worker did not finish');
    };
    await Promise.all(Array.from({ length: people }, (_, i) => worker(i)));
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 60, `took ${seconds} s`);
    assert.equal(answered.size, 400);
    assert.ok(refused > 0);
    const queries = f.store.queries({ run: RUN, units: false });
    assert.equal(queries.length, 400);
    for (const q of queries) {
      assert.equal(q.status, 'answered');
      assert.equal(q.answeredBy, answered.get(q.id), `query ${q.id}`);
    }
    const units = f.store.labelledUnits(RUN);
    assert.equal(units.length, 400);
    assert.equal(new Set(units.map((u) => u.queryId)).size, 400);
    for (const u of units) assert.equal(u.annotator, answered.get(u.queryId!));
    // Every image's mask holds each query's class over its unit.
    for (const q of f.store.queries({ run: RUN })) {
      const mask = f.store.mask(RUN, q.imageId).data;
      for (const p of q.units[0].pixelIndices) assert.equal(mask[p], q.id % 3);
    }
    latencies.sort((a, b) => a - b);
    const p95 = latencies[Math.floor(0.95 * (latencies.length - 1))];
    process.stdout.write(`# load: 400 answers by ${people} annotators in ${seconds.toFixed(2)} s, p95 answer latency ${p95.toFixed(1)} ms\n`);
  } finally {
    await f.close();
  }
});
