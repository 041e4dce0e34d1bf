// `adaseg labels export|import`: the Cityscapes-like layout and manifest; a round trip export ->
// import into a fresh store gives identical masks (train-id and colour files); every bad input
// (unknown image, wrong size, class id out of range, corrupt PNG, unknown colour, disagreeing
// files, other classes, conflicts with stored labels) is refused with a message naming the file
// and what was expected, and leaves the store exactly as it was, even when the other masks of the
// folder are fine (all or nothing).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { LabelStore, type RunSpec, type UnitLabels } from '../src/labels/store.js';
import { maskStem, unlabelledColour, type MasksManifest } from '../src/labels/mask-files.js';
import { decodePng, encodeGrayPng, encodeIndexedPng } from '../src/data/png.js';
import { cli } from './helpers/cli.js';

const W = 16;
const H = 12;
const RUN = 'entropy/seed-0';
const OTHER = 'random/seed-0';
const CLASSES = ['road', 'car', 'sky', 'tree'];
const PALETTE: [number, number, number][] = [
  [128, 64, 128],
  [0, 0, 142],
  [70, 130, 180],
  [107, 142, 35],
];
// 'a/b' checks that ids which are not file names still get one (a%2Fb).
const IMAGES = ['img0', 'img1', 'a/b'];

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'adaseg-labels-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const spec = (strategy: string): RunSpec => ({
  strategy,
  seed: 0,
  units: { kind: 'region', k: 2 },
  classNames: CLASSES,
  palette: PALETTE,
  images: IMAGES.map((id, index) => ({ id, index, width: W, height: H })),
});

/** The pixels of 4x4 block `u` (12 per image). */
const block = (u: number): Uint32Array => {
  const bx = (u % 4) * 4,
    by = Math.floor(u / 4) * 4;
  const out: number[] = [];
  for (let y = by; y < by + 4; y++) for (let x = bx; x < bx + 4; x++) out.push(y * W + x);
  return Uint32Array.from(out);
};

/** An output folder whose store has both runs registered and, with `labelled`, labels in RUN (a void pixel in every unit). */
function makeStore(name: string, labelled: boolean): string {
  const out = join(dir, name);
  mkdirSync(out, { recursive: true });
  const store = LabelStore.open(join(out, 'labels.sqlite'));
  store.ensureRun(RUN, spec('entropy'));
  store.ensureRun(OTHER, spec('random'));
  if (labelled) {
    const units: UnitLabels[] = [];
    for (const [imageId, list] of [
      ['img0', [0, 5, 11]],
      ['a/b', [2, 3]],
    ] as const) {
      for (const u of list) {
        const pixelIndices = block(u);
        units.push({ imageId, unit: u, pixelIndices, values: Uint8Array.from(pixelIndices, (p, i) => (i === 5 ? 255 : (p + u) % CLASSES.length)) });
      }
    }
    store.saveSelection(
      RUN,
      1,
      units.map((u) => ({ image: IMAGES.indexOf(u.imageId), imageId: u.imageId, unit: u.unit, pixels: 16, pixelIndices: u.pixelIndices })),
      { scoredWith: null },
    );
    store.labelUnits(RUN, units, { round: 1, strategy: 'entropy', checkpoint: null, annotator: 'simulated', seconds: 0 }, { completeRound: true });
  }
  store.close();
  return out;
}

/** Everything an import could change, for every run. */
function snapshot(out: string): string {
  const store = LabelStore.open(join(out, 'labels.sqlite'), { readonly: true });
  try {
    return JSON.stringify(
      store.runs().map((r) => ({
        info: r,
        masks: store.images(r.name).map((im) => Buffer.from(store.mask(r.name, im.id).data).toString('base64')),
        covered: [...store.coveredMasks(r.name)].map(([id, m]) => [id, Buffer.from(m).toString('base64')]),
        units: store.labelledUnits(r.name),
        imports: store.maskImports(r.name),
      })),
    );
  } finally {
    store.close();
  }
}

function masks(out: string, name = RUN): Map<string, Uint8Array> {
  const store = LabelStore.open(join(out, 'labels.sqlite'), { readonly: true });
  try {
    return new Map(store.images(name).map((im) => [im.id, store.mask(name, im.id).data]));
  } finally {
    store.close();
  }
}

const trainFile = (root: string, id: string) => join(root, 'trainid', `${maskStem(id)}_gtFine_labelTrainIds.png`);
const colorFile = (root: string, id: string) => join(root, 'color', `${maskStem(id)}_gtFine_color.png`);

let source: string;
let exported: string;

test('labels export: train-id and colour PNGs in the Cityscapes-like layout, and a manifest', async () => {
  source = makeStore('source', true);
  exported = join(dir, 'exported');
  const r = await cli(['labels', 'export', '--run', source, '--out', exported, '--name', RUN, '--json']);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out);
  assert.equal(summary.run, RUN);
  assert.equal(summary.images, 3);
  assert.equal(summary.labelledImages, 2);
  assert.equal(summary.files, 6);
  const stored = masks(source);
  for (const id of IMAGES) {
    const gray = decodePng(readFileSync(trainFile(exported, id)));
    assert.deepEqual([gray.width, gray.height, gray.colorType, gray.bitDepth], [W, H, 0, 8], 'train ids: 8-bit gray');
    assert.deepEqual(Buffer.from(gray.data as Uint8Array), Buffer.from(stored.get(id)!), id);
    const indexed = decodePng(readFileSync(colorFile(exported, id)));
    assert.equal(indexed.colorType, 3, 'colour masks: palette PNG');
    assert.deepEqual(Buffer.from(indexed.data as Uint8Array), Buffer.from(stored.get(id)!), 'palette index = train id');
    // Seen as colours (as any viewer does): class colours, unlabelled black.
    const rgb = await sharp(readFileSync(colorFile(exported, id)))
      .removeAlpha()
      .raw()
      .toBuffer();
    const data = stored.get(id)!;
    for (let p = 0; p < W * H; p++) {
      const expected = data[p] === 255 ? [0, 0, 0] : PALETTE[data[p]];
      assert.deepEqual([rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]], expected, `${id} pixel ${p}`);
    }
  }
  assert.ok(trainFile(exported, 'a/b').endsWith('a%2Fb_gtFine_labelTrainIds.png'));
  const manifest = JSON.parse(readFileSync(join(exported, 'manifest.json'), 'utf8')) as MasksManifest;
  assert.equal(manifest.format, 'adaseg-label-masks/1');
  assert.equal(manifest.run, RUN);
  assert.deepEqual(
    manifest.classes,
    CLASSES.map((name, id) => ({ id, name, color: PALETTE[id] })),
  );
  assert.equal(manifest.ignoreIndex, 255);
  assert.deepEqual(manifest.unlabelledColor, [0, 0, 0]);
  for (const im of manifest.images) {
    assert.equal(im.labelledPixels, Array.from(stored.get(im.id)!).filter((v) => v !== 255).length, im.id);
    assert.equal(im.trainid, `trainid/${maskStem(im.id)}_gtFine_labelTrainIds.png`);
  }
  assert.equal(manifest.images.find((i) => i.id === 'img0')!.coveredPixels, 48, 'void pixels of labelled units are covered');
  assert.equal(manifest.totals.labelledPixels, 5 * 15);
  // Only one kind; and no temporary files left behind.
  const onlyTrain = join(dir, 'only-train');
  assert.equal((await cli(['labels', 'export', '--run', source, '--out', onlyTrain, '--name', RUN, '--format', 'trainid'])).code, 0);
  assert.deepEqual(readdirSync(onlyTrain).sort(), ['manifest.json', 'trainid']);
  assert.equal(JSON.parse(readFileSync(join(onlyTrain, 'manifest.json'), 'utf8')).images[0].color, null);
  // A class drawn black moves the unlabelled colour elsewhere.
  assert.deepEqual(
    unlabelledColour([
      [0, 0, 0],
      [1, 2, 3],
    ]),
    [255, 255, 255],
  );
});

test('labels export/import: a round trip into a fresh store gives identical masks, with provenance; importing again changes nothing', async () => {
  const fresh = makeStore('fresh', false);
  const r = await cli(['labels', 'import', '--run', fresh, '--from', exported, '--name', RUN, '--annotator', 'ext-tool', '--json']);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out);
  assert.equal(summary.files, 3);
  assert.equal(summary.images, 2, 'masks with labels');
  assert.equal(summary.labelledPixels, 75);
  assert.equal(summary.changedPixels, 75);
  assert.equal(summary.overwrittenPixels, 0);
  const a = masks(source),
    b = masks(fresh);
  for (const id of IMAGES) assert.deepEqual(Buffer.from(b.get(id)!), Buffer.from(a.get(id)!), id);
  const store = LabelStore.open(join(fresh, 'labels.sqlite'), { readonly: true });
  const imports = store.maskImports(RUN);
  assert.deepEqual(
    imports.map((i) => i.imageId),
    ['img0', 'a/b'],
  );
  for (const i of imports) {
    assert.equal(i.annotator, 'ext-tool');
    assert.ok(i.source.endsWith(`${maskStem(i.imageId)}_gtFine_labelTrainIds.png`), i.source);
    assert.match(i.sha256!, /^[0-9a-f]{64}$/);
    assert.ok(!Number.isNaN(Date.parse(i.time)));
  }
  assert.equal(store.run(RUN).labelledPixels, 75);
  assert.equal(store.run(RUN).coveredPixels, 75, 'imported pixels count as covered (void pixels are not carried by train-id masks)');
  assert.equal(store.run(RUN).labelledUnits, 0, 'imports are not units');
  assert.equal(store.run(OTHER).labelledPixels, 0, 'only the named run');
  store.close();

  const again = await cli(['labels', 'import', '--run', fresh, '--from', exported, '--name', RUN, '--json']);
  assert.equal(again.code, 0, again.err);
  assert.equal(JSON.parse(again.out).changedPixels, 0);
  for (const id of IMAGES) assert.deepEqual(Buffer.from(masks(fresh).get(id)!), Buffer.from(a.get(id)!));

  // The colour masks alone give the same labels.
  const viaColour = makeStore('via-colour', false);
  const c = await cli(['labels', 'import', '--run', viaColour, '--from', exported, '--name', RUN, '--format', 'palette']);
  assert.equal(c.code, 0, c.err);
  assert.match(c.out, /imported 2 mask\(s\) with labels into run 'entropy\/seed-0' as 'import': 75 labelled pixels/);
  for (const id of IMAGES) assert.deepEqual(Buffer.from(masks(viaColour).get(id)!), Buffer.from(a.get(id)!), id);

  // Masks from another tool: RGBA colour PNGs (transparent = unlabelled, whatever its colour), no
  // manifest, Cityscapes city sub-folders.
  const foreign = join(dir, 'foreign');
  mkdirSync(join(foreign, 'color', 'city'), { recursive: true });
  const rgba = new Uint8Array(W * H * 4);
  for (let p = 0; p < W * H; p++) rgba.set(p < W ? [...PALETTE[2], 255] : [...PALETTE[1], 0], p * 4);
  await sharp(rgba, { raw: { width: W, height: H, channels: 4 } })
    .png()
    .toFile(join(foreign, 'color', 'city', 'img1_gtFine_color.png'));
  writeFileSync(join(foreign, 'color', 'README.txt'), 'not a mask');
  const f = await cli(['labels', 'import', '--run', viaColour, '--from', foreign, '--name', RUN, '--json']);
  assert.equal(f.code, 0, f.err);
  assert.match(f.err, /ignored 1 file/);
  const img1 = masks(viaColour).get('img1')!;
  assert.deepEqual(Array.from(img1.subarray(0, W)), new Array(W).fill(2));
  assert.equal(
    img1.subarray(W).every((v) => v === 255),
    true,
  );

  // Train ids as palette indices (whatever the colours) or as RGB with equal channels.
  const variants = join(dir, 'trainid-variants');
  mkdirSync(join(variants, 'trainid'), { recursive: true });
  writeFileSync(
    trainFile(variants, 'img0'),
    encodeIndexedPng(
      W,
      H,
      a.get('img0')!,
      Array.from({ length: 256 }, (_, i) => [i, 255 - i, 7] as [number, number, number]),
    ),
  );
  const abIds = a.get('a/b')!;
  await sharp(
    Uint8Array.from({ length: W * H * 3 }, (_, i) => abIds[Math.floor(i / 3)]),
    { raw: { width: W, height: H, channels: 3 } },
  )
    .png()
    .toFile(trainFile(variants, 'a/b'));
  const viaVariants = makeStore('via-variants', false);
  const v = await cli(['labels', 'import', '--run', viaVariants, '--from', variants, '--name', RUN]);
  assert.equal(v.code, 0, v.err);
  for (const id of IMAGES) assert.deepEqual(Buffer.from(masks(viaVariants).get(id)!), Buffer.from(a.get(id)!), id);

  // A dry run reports and writes nothing.
  const dryStore = makeStore('dry', false);
  const before = snapshot(dryStore);
  const dry = await cli(['labels', 'import', '--run', dryStore, '--from', exported, '--name', RUN, '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.err);
  assert.equal(JSON.parse(dry.out).dryRun, true);
  assert.equal(JSON.parse(dry.out).changedPixels, 75);
  assert.equal(snapshot(dryStore), before);
});

/** A copy of the good export with `change` applied. */
function variant(name: string, change: (root: string) => void | Promise<void>): Promise<string> {
  const root = join(dir, 'variants', name);
  cpSync(exported, root, { recursive: true });
  return Promise.resolve(change(root)).then(() => root);
}

test('labels import: each bad input is refused naming the file and what was expected, and changes nothing', async () => {
  const target = makeStore('target', false);
  const gray = (values: ArrayLike<number>, w = W, h = H) => encodeGrayPng(w, h, Uint8Array.from(values));
  const withValue = (v: number) => {
    const data = new Uint8Array(W * H).fill(255);
    data[W + 3] = v;
    data[W + 4] = v;
    return data;
  };
  const cases: [string, (root: string) => void | Promise<void>, RegExp, string, string[]?][] = [
    [
      'unknown image',
      (root) => writeFileSync(trainFile(root, 'nope'), gray(new Uint8Array(W * H).fill(1))),
      /trainid\/nope_gtFine_labelTrainIds\.png: run 'entropy\/seed-0' has no image 'nope'/,
      'unknown-image',
    ],
    [
      'wrong size',
      (root) => writeFileSync(trainFile(root, 'img1'), gray(new Uint8Array(8 * 6).fill(1), 8, 6)),
      /img1_gtFine_labelTrainIds\.png: is 8x6, image 'img1' of run 'entropy\/seed-0' is 16x12/,
      'size-mismatch',
    ],
    [
      'class id out of range',
      (root) => writeFileSync(trainFile(root, 'img1'), gray(withValue(7))),
      /img1_gtFine_labelTrainIds\.png: value 7 \(2 px, first at x=3, y=1\) is not a class id 0\.\.3 nor 255/,
      'bad-class',
    ],
    [
      'truncated PNG',
      (root) => writeFileSync(trainFile(root, 'img1'), gray(withValue(1)).subarray(0, 60)),
      /img1_gtFine_labelTrainIds\.png: cannot decode: corrupt PNG/,
      'unreadable',
    ],
    [
      'not a PNG',
      (root) => writeFileSync(trainFile(root, 'img1'), Buffer.from('hello, I am not an image at all, sorry about that')),
      /img1_gtFine_labelTrainIds\.png: cannot decode: not a PNG file/,
      'unreadable',
    ],
    [
      'colour image as train ids',
      async (root) =>
        writeFileSync(
          trainFile(root, 'img1'),
          await sharp(
            new Uint8Array(W * H * 3).fill(60).map((v, i) => (i === 4 ? 9 : v)),
            { raw: { width: W, height: H, channels: 3 } },
          )
            .png()
            .toBuffer(),
        ),
      /img1_gtFine_labelTrainIds\.png: a colour image \(pixel x=1, y=0 is \(60, 9, 60\)\)/,
      'bad-format',
    ],
    [
      'unknown colour',
      async (root) => {
        const rgb = new Uint8Array(W * H * 3);
        rgb.set([1, 2, 3], (2 * W + 5) * 3);
        rmSync(trainFile(root, 'img1'));
        writeFileSync(
          colorFile(root, 'img1'),
          await sharp(rgb, { raw: { width: W, height: H, channels: 3 } })
            .png()
            .toBuffer(),
        );
      },
      /color\/img1_gtFine_color\.png: colour \(1, 2, 3\) \(1 px, first at x=5, y=2\) is no class colour nor the unlabelled colour/,
      'unknown-colour',
    ],
    [
      'train ids and colours disagree',
      (root) => writeFileSync(colorFile(root, 'img0'), encodeIndexedPng(W, H, new Uint8Array(W * H).fill(1), [...PALETTE, ...new Array(252).fill([0, 0, 0])])),
      /img0_gtFine_labelTrainIds\.png: disagrees with color\/img0_gtFine_color\.png on \d+ pixel\(s\)/,
      'disagree',
    ],
    [
      'masks made for other classes',
      (root) => {
        const m = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));
        m.classes[1].name = 'truck';
        writeFileSync(join(root, 'manifest.json'), JSON.stringify(m));
      },
      /manifest\.json: the masks were made for classes \[road, truck, sky, tree\], run 'entropy\/seed-0' has \[road, car, sky, tree\]/,
      'wrong-classes',
    ],
    [
      'no masks',
      (root) => (rmSync(join(root, 'trainid'), { recursive: true }), rmSync(join(root, 'color'), { recursive: true })),
      /no masks found: expected trainid\/<image>_gtFine_labelTrainIds\.png or color\/<image>_gtFine_color\.png/,
      'no-masks',
    ],
  ];
  for (const [what, change, message, code] of cases) {
    const root = await variant(what.replace(/\W+/g, '-'), change);
    const before = snapshot(target);
    const r = await cli(['labels', 'import', '--run', target, '--from', root, '--name', RUN, '--json']);
    assert.equal(r.code, 1, `${what}: ${r.err}`);
    assert.match(r.err, message, what);
    assert.match(r.err, /nothing was imported/, what);
    assert.doesNotMatch(r.err, /\n\s+at /, `${what}: no stack trace`);
    const error = JSON.parse(r.out).error;
    assert.equal(error.code, 'invalid-masks', what);
    assert.ok(
      error.problems.some((p: { code: string }) => p.code === code),
      `${what}: ${JSON.stringify(error.problems)}`,
    );
    assert.equal(snapshot(target), before, `${what}: the store is unchanged`);
  }
  // Several problems at once are all listed.
  const many = await variant('many', (root) => {
    writeFileSync(trainFile(root, 'img1'), gray(withValue(9)));
    writeFileSync(trainFile(root, 'ghost'), gray(withValue(1)));
  });
  const r = await cli(['labels', 'import', '--run', target, '--from', many, '--name', RUN]);
  assert.equal(r.code, 1);
  assert.match(r.err, /2 problem\(s\) in .*; nothing was imported/);
  assert.match(r.err, /value 9/);
  assert.match(r.err, /no image 'ghost'/);
  assert.equal(
    masks(target)
      .get('img0')!
      .every((v) => v === 255),
    true,
    'the good masks were not imported either',
  );
});

test('labels import: a pixel labelled otherwise is a conflict, refused unless --overwrite; 255 never erases a label', async () => {
  const target = makeStore('conflict', true);
  const stored = masks(target).get('img0')!;
  const labelled = stored.findIndex((v) => v !== 255);
  const mine = new Uint8Array(W * H).fill(255);
  mine[labelled] = (stored[labelled] + 1) % CLASSES.length; // another class on a labelled pixel
  mine[15] = 3; // a new label on an unlabelled pixel (x=15, y=0: in no labelled unit)
  const root = join(dir, 'conflicting');
  mkdirSync(join(root, 'trainid'), { recursive: true });
  writeFileSync(trainFile(root, 'img0'), encodeGrayPng(W, H, mine));
  const before = snapshot(target);
  const refused = await cli(['labels', 'import', '--run', target, '--from', root, '--name', RUN, '--json']);
  assert.equal(refused.code, 1);
  assert.match(
    refused.err,
    /1 pixel\(s\) in 1 image\(s\) already hold other labels: 'img0' 1 px \(first at x=\d+, y=\d+: stored \d, imported \d\)\. Nothing was imported \(use --overwrite to replace them\)/,
  );
  assert.equal(JSON.parse(refused.out).error.code, 'conflict');
  assert.equal(snapshot(target), before);

  const ok = await cli(['labels', 'import', '--run', target, '--from', root, '--name', RUN, '--overwrite', '--annotator', 'fixer', '--json']);
  assert.equal(ok.code, 0, ok.err);
  assert.deepEqual([JSON.parse(ok.out).changedPixels, JSON.parse(ok.out).overwrittenPixels], [2, 1]);
  const after = masks(target).get('img0')!;
  for (let p = 0; p < W * H; p++) assert.equal(after[p], mine[p] !== 255 ? mine[p] : stored[p], `pixel ${p}`);
  const store = LabelStore.open(join(target, 'labels.sqlite'), { readonly: true });
  assert.deepEqual(
    store.maskImports(RUN).map((i) => [i.imageId, i.annotator, i.overwrittenPixels]),
    [['img0', 'fixer', 1]],
  );
  assert.equal(store.labelledUnits(RUN).length, 5, 'the units and their provenance stay');
  store.close();
});

test('adaseg labels: help, usage errors (exit 2), a store with several runs needs --name (exit 1)', async () => {
  const help = await cli(['labels', 'import', '--help']);
  assert.equal(help.code, 0);
  for (const flag of ['--run DIR', '--from DIR', '--name RUN', '--annotator NAME', '--format FORMAT', '--overwrite', '--dry-run', '--json'])
    assert.ok(help.out.includes(flag), flag);
  const exportHelp = await cli(['labels', 'export', '--help']);
  for (const flag of ['--out DIR', '(palette|trainid|both)']) assert.ok(exportHelp.out.includes(flag), flag);
  assert.match((await cli(['labels', '--help'])).out, /export +write a run's labels/);
  assert.match((await cli(['--help'])).out, /\n  labels +/);
  const src = source ?? makeStore('usage', true);
  for (const args of [
    ['labels', 'export', '--run', src],
    ['labels', 'export', '--run', src, '--out', join(dir, 'x'), '--format', 'jpeg'],
    ['labels', 'import', '--run', src],
    ['labels', 'import', '--run', src, '--from', exported, '--annotator', 'no spaces please'],
    ['labels', 'import', '--run', src, '--from', exported, 'extra'],
    ['labels', 'wat'],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
  }
  const ambiguous = await cli(['labels', 'export', '--run', src, '--out', join(dir, 'y')]);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.err, /holds 2 runs \('entropy\/seed-0', 'random\/seed-0'\): choose one with --name/);
  const unknown = await cli(['labels', 'export', '--run', src, '--out', join(dir, 'y'), '--name', 'nope/seed-0']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /no run 'nope\/seed-0'/);
  const noStore = await cli(['labels', 'export', '--run', join(dir, 'nothing'), '--out', join(dir, 'y')]);
  assert.equal(noStore.code, 1);
  assert.match(noStore.err, /has no labels\.sqlite/);
});
