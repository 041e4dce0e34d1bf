// The annotation studio in a real browser: Debian's chromium (/usr/bin/chromium, never a
// downloaded one) driven by playwright-core, against a server on a label store made here over a
// synthetic pool (4 queries in round 1: two region-class queries on img0, one on img1 whose
// overlays are missing, one pixel-paint query on img2). It signs in (a bad token is refused with
// the server's message), checks the overlays change the canvas, answers a region query by clicks
// and one by keys, skips and goes back, paints a mask (prediction as pre-label, brush, fill), shows
// an API refusal, reloads and finds the answers (on the page and in the store), and looks as a
// read-only user. Screenshots go to test-artifacts/.
//
// Without chromium or playwright-core the test is skipped, except under CI (set-up installs them).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { poolGroundTruth } from '../src/experiment/annotators.js';
import { writeOverlayFiles, OVERLAYS_INFO_KEY } from '../src/report/overlays.js';
import { IGNORE_INDEX as IGNORE } from '../src/data/classes.js';
import { LabelStore, type NewQuery, type UnitPixels } from '../src/labels/store.js';
import { unitLayout } from '../src/active/units.js';
import { datasetImages, startAnnotateServer, UserStore, type RunningServer } from '../src/annotate/index.js';
import { loadDataset } from '../src/data/formats/index.js';
import { buildWeb } from '../scripts/build-web.mjs';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const RUN = 'entropy/seed-0';
const W = 48;
const H = 36;

type Playwright = typeof import('playwright-core');
const playwright: Playwright | null = await import('playwright-core').catch(() => null);
const unavailable = !existsSync(CHROMIUM)
  ? `Debian's chromium is not installed at ${CHROMIUM} (setup.sh installs it: apt-get install chromium)`
  : playwright === null
    ? 'playwright-core is not installed (npm ci installs it as a dependency of adaseg)'
    : null;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'adaseg-browser-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const regions = unitLayout({ kind: 'region', k: 1 }, { width: W, height: H });
/** The paint query's pixels: the rectangle x 8..39, y 6..29. */
const PAINT_RECT = { x0: 8, y0: 6, x1: 40, y1: 30 };
const paintPixels = (() => {
  const out: number[] = [];
  for (let y = PAINT_RECT.y0; y < PAINT_RECT.y1; y++) for (let x = PAINT_RECT.x0; x < PAINT_RECT.x1; x++) out.push(y * W + x);
  return Uint32Array.from(out);
})();
/** The centre of region unit u (region k=1: 3x3 squares, 16 per row). */
const regionCentre = (u: number) => ({ x: (u % 16) * 3 + 1.5, y: Math.floor(u / 16) * 3 + 1.5 });

interface Fixture {
  store: LabelStore;
  users: UserStore;
  server: RunningServer;
  tokens: { ann: string; viewer: string };
  truth: Uint8Array[];
  classNames: string[];
  close(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const out = join(dir, 'run');
  mkdirSync(out, { recursive: true });
  const webDir = await buildWeb(join(dir, 'web'));
  const pool = await loadDataset({ format: 'synthetic', style: 'target', count: 3, width: W, height: H, seed: 7 });
  const classNames = [...pool.classes.names];
  const palette = pool.classes.palette.map((c) => [c[0], c[1], c[2]] as [number, number, number]);
  const groundTruth = poolGroundTruth(pool, []);
  const truth = await Promise.all(pool.samples.map((s, i) => groundTruth(i, s.id)));
  const store = LabelStore.open(join(out, 'labels.sqlite'));
  store.ensureRun(RUN, {
    strategy: 'entropy',
    seed: 0,
    units: { kind: 'region', k: 1 },
    classNames,
    palette,
    images: pool.samples.map((s, i) => ({ id: s.id, index: i, width: W, height: H })),
  });
  const region = (image: number, u: number): UnitPixels => ({ image, imageId: pool.samples[image].id, unit: u, pixels: 9, pixelIndices: regions.pixels(u) });
  const selection = [
    region(0, 17),
    region(0, 20),
    region(0, 50),
    region(1, 33),
    { image: 2, imageId: pool.samples[2].id, unit: 0, pixels: paintPixels.length, pixelIndices: paintPixels },
    region(0, 100),
    region(0, 120),
  ];
  // The overlays as the loop writes them (prediction = the ground truth here); img1 gets none.
  store.saveSelection(RUN, 1, selection, { scoredWith: null, info: { [OVERLAYS_INFO_KEY]: 'overlays-r1' } });
  for (const i of [0, 2]) {
    const uncertainty = new Uint8Array(W * H);
    for (let p = 0; p < uncertainty.length; p++) uncertainty[p] = Math.round(((p % W) * 255) / (W - 1));
    await writeOverlayFiles(
      join(out, 'overlays-r1'),
      { index: i, id: pool.samples[i].id },
      { width: W, height: H, prediction: truth[i], uncertainty },
      palette,
    );
  }
  const q = (image: number, kind: NewQuery['kind'], units: UnitPixels[]): NewQuery => ({
    imageId: pool.samples[image].id,
    kind,
    units: units.map((u) => ({ unit: u.unit, pixelIndices: u.pixelIndices })),
  });
  store.createQueries(
    RUN,
    1,
    [
      q(0, 'region-class', selection.slice(0, 3)),
      q(1, 'region-class', [selection[3]]),
      q(2, 'pixel-paint', [selection[4]]),
      q(0, 'region-class', selection.slice(5)),
    ],
    { strategy: 'entropy', checkpoint: null },
  );
  const users = UserStore.open(join(out, 'labels.sqlite'));
  const tokens = { ann: users.add('ann', 'annotator'), viewer: users.add('viewer', 'readonly') };
  const server = await startAnnotateServer({ store, users, images: datasetImages(pool, []), outputDir: out, webDir, log: () => {} });
  return {
    store,
    users,
    server,
    tokens,
    truth,
    classNames,
    async close() {
      await server.close();
      users.close();
      store.close();
    },
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const browserTest = (name: string, fn: () => Promise<void>) => {
  if (unavailable !== null && process.env.CI) test(name, () => assert.fail(`the browser test needs chromium and playwright-core under CI: ${unavailable}`));
  else test(name, { skip: unavailable ?? false }, fn);
};

browserTest('the annotation studio in chromium: sign in, overlays, answer by click, key and brush, skip, back, errors, reload', async () => {
  const f = await fixture();
  const browser = await playwright!.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--disable-gpu', '--disable-dev-shm-usage'] });
  const pageErrors: string[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      // The browser logs every 4xx fetch; those are expected here (a missing overlay, a refused answer).
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
    });
    // A query is ready when it is on the page and no API action is running.
    const queryShown = (id: number) => page.waitForFunction((n) => document.body.dataset.queryId === String(n) && document.body.dataset.busy !== 'true', id);
    const text = async (selector: string) => (await page.locator(selector).textContent()) ?? '';
    const canvasHash = () =>
      page.evaluate(() => {
        const c = document.getElementById('view') as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let h = 0;
        for (let i = 0; i < d.length; i++) h = (Math.imul(h, 31) + d[i]) | 0;
        return h;
      });
    const clickImage = async (x: number, y: number) => {
      const box = (await page.locator('#view').boundingBox())!;
      await page.mouse.click(box.x + (x / W) * box.width, box.y + (y / H) * box.height);
    };
    const status = (id: number) => f.store.query(id).status;

    // Sign in: a wrong token is refused with the server's message; the right one opens the studio.
    await page.goto(`${f.server.url}/`);
    await page.locator('#token').fill('ads_not-a-real-token');
    await page.locator('#sign-in').click();
    await page.waitForFunction(() => /refused/.test(document.getElementById('login-error')!.textContent ?? ''));
    assert.match(await text('#login-error'), /unknown access token/);
    await page.locator('#token').fill(f.tokens.ann);
    await page.locator('#sign-in').click();
    await queryShown(1);
    assert.equal(await text('#who'), 'ann (annotator)');
    assert.match(await text('#query-title'), /Query #1 · image .* · round 1/);
    assert.equal(f.store.query(1).leaseOwner, 'ann');
    assert.equal(await page.locator('#queue li').count(), 4);
    assert.equal(await page.locator('#classes .class-button').count(), f.classNames.length + 1);

    // Overlays: both loaded; each one changes the canvas when shown (key and checkbox).
    assert.equal(await page.evaluate(() => [document.body.dataset.prediction, document.body.dataset.uncertainty].join()), 'loaded,loaded');
    const plain = await canvasHash();
    await page.keyboard.press('p');
    const withPrediction = await canvasHash();
    assert.notEqual(withPrediction, plain);
    assert.equal(await page.locator('#toggle-prediction').isChecked(), true);
    await page.keyboard.press('p');
    assert.equal(await canvasHash(), plain);
    await page.locator('#toggle-uncertainty').check();
    assert.notEqual(await canvasHash(), plain);
    await page.keyboard.press('u');
    assert.equal(await canvasHash(), plain);

    // Query 1 by clicks: pick region 3 on the canvas, then class buttons; the last one sends.
    const [q1a, q1b, q1c] = [17, 20, 50];
    await clickImage(regionCentre(q1c).x, regionCentre(q1c).y);
    assert.match(await text('#unit-list li.current'), /^R3/);
    await page.locator('#classes .class-button[data-class="2"]').click();
    assert.match(await text('#unit-list li.current'), /^R1/);
    await page.locator('#classes .class-button[data-class="1"]').click();
    await page.locator('#classes .class-button[data-class="255"]').click();
    await queryShown(2);
    assert.equal(status(1), 'answered');
    const mask0 = () => f.store.mask(RUN, f.store.query(1).imageId).data;
    for (const [u, cls] of [
      [q1a, 1],
      [q1b, IGNORE],
      [q1c, 2],
    ])
      for (const p of regions.pixels(u)) assert.equal(mask0()[p], cls, `unit ${u}`);

    // Query 2 has no overlay files: the page says so and disables the toggles; skip it.
    assert.equal(await page.evaluate(() => document.body.dataset.prediction), 'missing');
    assert.equal(await page.locator('#toggle-prediction').isDisabled(), true);
    assert.match(await text('#overlay-status'), /the model prediction of query 2 is missing: expected overlays-r1\/1-/);
    await page.keyboard.press('s');
    await queryShown(3);
    assert.equal(status(2), 'open');
    assert.equal(f.store.query(2).leaseOwner, null);

    // Query 3 (paint): the prediction as pre-label, a fill from one pixel, a brush stroke along row 12.
    assert.equal(await page.locator('#paint-bar').isVisible(), true);
    const truth2 = f.truth[2];
    const fillAt = { x: 38, y: 28 };
    const start = fillAt.y * W + fillAt.x;
    const fillClass = truth2[start] === 5 ? 3 : 5;
    const strokeClass = 4;
    await page.keyboard.press('a');
    await page.keyboard.press('f');
    await page.keyboard.press(String(fillClass + 1));
    await page.mouse.move(0, 0);
    const beforeFill = await canvasHash();
    await clickImage(fillAt.x + 0.5, fillAt.y + 0.5);
    await page.mouse.move(0, 0);
    assert.notEqual(await canvasHash(), beforeFill);
    await page.keyboard.press('b');
    await page.keyboard.press(String(strokeClass + 1));
    await page.keyboard.press('[');
    assert.equal(await text('#brush-size-value'), '3');
    const box = (await page.locator('#view').boundingBox())!;
    const at = (x: number, y: number) => [box.x + (x / W) * box.width, box.y + (y / H) * box.height] as const;
    await page.mouse.move(...at(10.5, 12.5));
    await page.mouse.down();
    await page.mouse.move(...at(30.5, 12.5), { steps: 12 });
    await page.mouse.up();
    await page.keyboard.press('p');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'annotation-studio-paint.png'), fullPage: true });
    await page.keyboard.press('p');
    await page.keyboard.press('Enter');
    await queryShown(4);
    assert.equal(status(3), 'answered');
    {
      // Expected: the ground truth (the pre-label), the fill's 4-connected area of equal truth
      // inside the query, then the stroke (exact on its centre row; rows 11-13 may be touched).
      const inside = new Set(paintPixels);
      const filled = new Set<number>([start]);
      const todo = [start];
      while (todo.length > 0) {
        const p = todo.pop()!;
        const x = p % W;
        for (const n of [x > 0 ? p - 1 : -1, x < W - 1 ? p + 1 : -1, p - W, p + W]) {
          if (inside.has(n) && !filled.has(n) && truth2[n] === truth2[start]) (filled.add(n), todo.push(n));
        }
      }
      const stored = f.store.mask(RUN, f.store.query(3).imageId).data;
      for (let p = 0; p < W * H; p++) {
        const x = p % W,
          y = Math.floor(p / W);
        const expected = !inside.has(p) ? IGNORE : filled.has(p) ? fillClass : truth2[p];
        if (y === 12 && x >= 10 && x <= 30) assert.equal(stored[p], strokeClass, `the stroke at ${x},${y}`);
        else if (inside.has(p) && y >= 11 && y <= 13) assert.ok(stored[p] === expected || stored[p] === strokeClass, `near the stroke at ${x},${y}`);
        else assert.equal(stored[p], expected, `at ${x},${y}`);
      }
      assert.ok(filled.size > 0);
    }

    // An API refusal is shown as the server words it: someone else took query 4 meanwhile.
    f.store.release(4, 'ann');
    f.store.lease('bob', { seconds: 60, queryId: 4 });
    await page.keyboard.press('1');
    await page.keyboard.press('2');
    await page.waitForFunction(() => !document.getElementById('error')!.classList.contains('hidden'));
    assert.match(await text('#error-text'), /Refused \(409 conflict\): lease query 4 before answering it \(it is leased by bob\)/);
    assert.equal(status(4), 'open');
    f.store.release(4, 'bob');

    // Back: query 3 (answered: read-only), then query 2 (skipped: leased again and answered by key).
    await page.keyboard.press('Backspace');
    await queryShown(3);
    assert.match(await text('#query-state'), /answered by ann/);
    assert.equal(await page.locator('#send').isDisabled(), true);
    assert.match(await text('#query-note'), /answers are final/);
    await page.keyboard.press('Backspace');
    await queryShown(2);
    assert.equal(f.store.query(2).leaseOwner, 'ann');
    await page.locator('#auto-send').uncheck();
    await page.keyboard.press('3');
    assert.match(await text('#counts'), /Every region has a class: press Enter/);
    assert.equal(status(2), 'open');
    await page.keyboard.press('Enter');
    await queryShown(4);
    assert.equal(status(2), 'answered');
    for (const p of regions.pixels(33)) assert.equal(f.store.mask(RUN, f.store.query(2).imageId).data[p], 2);

    // Query 4: the prediction's majority class per region, then Enter.
    await page.keyboard.press('a');
    await page.keyboard.press('Enter');
    await until('query 4 answered', () => status(4) === 'answered');
    const majority = (u: number) => {
      const votes = new Map<number, number>();
      for (const p of regions.pixels(u)) votes.set(f.truth[0][p], (votes.get(f.truth[0][p]) ?? 0) + 1);
      return [...votes].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
    };
    for (const u of [100, 120]) for (const p of regions.pixels(u)) assert.equal(mask0()[p], majority(u), `unit ${u}`);
    await page.waitForFunction(() => /no open query left/.test(document.getElementById('query-note')!.textContent ?? ''));

    // Reload: still signed in; progress and queue show every answer; query 1 shows its classes.
    await page.reload();
    await page.waitForFunction(() => /no open query left/.test(document.getElementById('query-note')!.textContent ?? ''));
    assert.match(await text('#progress tbody tr[data-round="1"]'), /querying.*4\/4/);
    assert.deepEqual(await page.locator('#queue li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.status)), [
      'answered',
      'answered',
      'answered',
      'answered',
    ]);
    await page.locator('#queue li[data-query-id="1"]').click();
    await queryShown(1);
    assert.deepEqual(await page.locator('#unit-list li').allTextContents(), [`R1: ${f.classNames[1]}`, 'R2: none', `R3: ${f.classNames[2]}`]);
    await page.screenshot({ path: join(ARTIFACTS, 'annotation-studio-answered.png'), fullPage: true });
    for (const q of f.store.queries({ run: RUN, units: false })) {
      assert.equal(q.status, 'answered');
      assert.equal(q.answeredBy, 'ann');
    }
    assert.ok(f.store.labelledUnits(RUN).every((u) => u.annotator === 'ann' && u.seconds > 0 && u.queryId !== null));

    // A read-only user can look but not answer.
    const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const viewer = await viewerContext.newPage();
    viewer.on('pageerror', (err) => pageErrors.push(err.message));
    await viewer.goto(`${f.server.url}/`);
    await viewer.locator('#token').fill(f.tokens.viewer);
    await viewer.locator('#sign-in').click();
    await viewer.waitForFunction(() => /read-only user/.test(document.getElementById('query-note')!.textContent ?? ''));
    await viewer.locator('#queue li[data-query-id="3"]').click();
    await viewer.waitForFunction(() => document.body.dataset.queryId === '3');
    assert.equal(await viewer.locator('#send').isDisabled(), true);
    assert.equal(await viewer.locator('#classes .class-button').first().isDisabled(), true);
    await viewerContext.close();

    assert.deepEqual(pageErrors, []);
    assert.ok(readdirSync(ARTIFACTS).includes('annotation-studio-paint.png'));
  } finally {
    await browser.close();
    await f.close();
  }
});

test('the server serves the built page and its assets with a strict content policy, and says when the page is not built', async () => {
  const webDir = await buildWeb(join(dir, 'web-only'));
  const store = LabelStore.open(join(dir, 'page.sqlite'));
  const users = UserStore.open(join(dir, 'page.sqlite'));
  const built = await startAnnotateServer({ store, users, webDir, log: () => {} });
  const missing = await startAnnotateServer({ store, users, webDir: join(dir, 'nothing-here'), log: () => {} });
  try {
    const page = await fetch(`${built.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await page.text();
    // Nothing from elsewhere: every src/href is local.
    for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) assert.ok(m[1].startsWith('/') || m[1].startsWith('data:'), m[1]);
    for (const [name, type] of [
      ['app.js', /javascript/],
      ['app.css', /text\/css/],
    ] as const) {
      const asset = await fetch(`${built.url}/assets/${name}`);
      assert.equal(asset.status, 200, name);
      assert.match(asset.headers.get('content-type') ?? '', type);
      assert.doesNotMatch(await asset.text(), /https?:\/\/(?!www\.w3\.org)/, `${name} loads nothing from elsewhere`);
    }
    const unknown = await fetch(`${built.url}/assets/..%2F..%2Fpackage.json`);
    assert.equal(unknown.status, 404);
    const notBuilt = await fetch(`${missing.url}/`);
    assert.equal(notBuilt.status, 503);
    assert.match(await notBuilt.text(), /not built .*npm run build/);
  } finally {
    await built.close();
    await missing.close();
    users.close();
    store.close();
  }
});
