// The exact PNG reader used for labels, against sharp: same values for what sharp reads exactly,
// palette indices and 16-bit samples where sharp would not keep them; clear errors on damage.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { decodePng, encodeIndexedPng, readRawLabel } from '../src/data/index.js';
import { CAMVID_DAY2DUSK } from './helpers/data-fixtures.js';

describe('label PNG reader', () => {
  test('8-bit gray, RGB and RGBA written by sharp read back exactly', async () => {
    const w = 13,
      h = 7;
    for (const channels of [1, 3, 4] as const) {
      const data = Uint8Array.from({ length: w * h * channels }, (_, i) => (i * 37) % 256);
      let s = sharp(data, { raw: { width: w, height: h, channels } });
      if (channels === 1) s = s.toColourspace('b-w');
      const png = await s.png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer();
      const out = decodePng(png);
      assert.equal(out.channels, channels);
      assert.deepEqual(out.data, data);
    }
  });

  test('16-bit samples are kept (sharp would rescale them to 8 bits)', async () => {
    const data = Uint16Array.from({ length: 5 * 4 * 3 }, (_, i) => i * 1000 + (i % 23));
    const png = await sharp(data, { raw: { width: 5, height: 4, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    const out = decodePng(png);
    assert.equal(out.bitDepth, 16);
    assert.deepEqual(out.data, data);
  });

  test('palette PNGs give indices; low bit depths unpack', async () => {
    const idx = Uint8Array.from({ length: 9 * 5 }, (_, i) => (i * 7) % 34);
    const palette = Array.from({ length: 34 }, (_, i) => [i, 0, 0] as const);
    const png = encodeIndexedPng(9, 5, idx, palette);
    assert.deepEqual(decodePng(png).data, idx);
    // sharp reads the same file as colours: the reader must not go through it for labels.
    const viaSharp = await sharp(png).raw().toBuffer();
    assert.equal(viaSharp[3 * 5], idx[5]);
    // A 2-bit palette PNG written by sharp (libimagequant picks the indices): index → colour must round-trip.
    const rgb = Uint8Array.from({ length: 6 * 2 * 3 }, (_, i) => (Math.floor(i / 3) % 3) * 100);
    const p2 = await sharp(rgb, { raw: { width: 6, height: 2, channels: 3 } })
      .png({ palette: true, colours: 4, dither: 0 })
      .toBuffer();
    const d2 = decodePng(p2);
    assert.equal(d2.bitDepth, 2);
    assert.equal(new Set(d2.data).size, 3);
    for (let i = 0; i < 12; i++) for (let j = 0; j < 12; j++) assert.equal(d2.data[i] === d2.data[j], rgb[i * 3] === rgb[j * 3]);
  });

  test('damaged files fail with a reason', () => {
    const png = encodeIndexedPng(4, 4, new Uint8Array(16), [[0, 0, 0]]);
    assert.throws(() => decodePng(png.subarray(0, 20)), /not a PNG|truncated/);
    assert.throws(() => decodePng(png.subarray(0, png.length - 12)), /truncated/);
    const bad = Buffer.from(png);
    bad[bad.indexOf('IDAT') + 6] ^= 0xff;
    assert.throws(() => decodePng(bad), /corrupt PNG/);
    assert.throws(() => decodePng(Buffer.from('hello world, not an image at all')), /not a PNG/);
  });

  test('camvid-day2dusk labels: the reader agrees with sharp (skipped when absent)', { skip: !existsSync(CAMVID_DAY2DUSK) && 'no dataset' }, async () => {
    const names = readdirSync(join(CAMVID_DAY2DUSK, 'labels')).slice(0, 3);
    for (const n of names) {
      const file = join(CAMVID_DAY2DUSK, 'labels', n);
      const ours = await readRawLabel(file);
      const theirs = await sharp(await readFile(file))
        .raw()
        .toBuffer({ resolveWithObject: true });
      assert.equal(ours.width, theirs.info.width);
      for (let i = 0; i < ours.width * ours.height; i++) assert.equal(ours.data[i * ours.channels], theirs.data[i * theirs.info.channels]);
      assert.ok(Math.max(...ours.data) <= 11);
    }
  });
});
