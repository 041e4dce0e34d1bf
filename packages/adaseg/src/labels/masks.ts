// The mask store: the runs of an experiment (a strategy and a seed, with its pool images), each pool
// image's partial label mask (train ids, 255 = unknown) with the pixels its labelled units cover,
// and the provenance of every labelled unit (round, strategy, model checkpoint, annotator, time,
// seconds spent, query).
import type { UnitConfig } from '../active/types.js';
import { blob, checkIndices, IGNORE, iso, LabelStoreError, type StoreDatabase } from './database.js';

/**
 * A directory name for a strategy label: 'ripu-region (k=1)' → 'ripu-region-k-1'. The loop names
 * a run '<slug of the strategy label>/seed-N'.
 */
export function slug(label: string): string {
  return (
    label
      .toLowerCase()
      .replace(/[^a-z0-9.]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'strategy'
  );
}

export interface StoreImage {
  /** Id and index of the image in the pool's sample list. */
  id: string;
  index: number;
  /** Size of the label mask (the working resolution of the loop). */
  width: number;
  height: number;
}

export interface RunSpec {
  strategy: string;
  seed: number;
  units: UnitConfig;
  classNames: string[];
  /** RGB per class (for exported palette PNGs). */
  palette?: readonly (readonly [number, number, number])[];
  images: StoreImage[];
}

export interface RunInfo {
  name: string;
  strategy: string;
  seed: number;
  units: UnitConfig;
  classNames: string[];
  palette: [number, number, number][];
  images: number;
  pixels: number;
  /** Pixels with a class (not 255). */
  labelledPixels: number;
  /** Pixels of labelled units, void included: what the budget counts. */
  coveredPixels: number;
  /** Units labelled so far. */
  labelledUnits: number;
}

/** What is written about a labelled unit besides its pixels. */
export interface Provenance {
  round: number;
  strategy: string;
  /** The model checkpoint that chose the unit (null when none, e.g. random). */
  checkpoint: string | null;
  annotator: string;
  /** Seconds the annotator spent (0 for the simulated annotator). */
  seconds: number;
}

/** Labels for one unit: `values[i]` is the train id (or 255) of pixel `pixelIndices[i]`. */
export interface UnitLabels {
  imageId: string;
  unit: number;
  pixelIndices: Uint32Array;
  values: Uint8Array;
}

export interface LabelledUnit {
  imageId: string;
  unit: number;
  round: number;
  strategy: string;
  checkpoint: string | null;
  annotator: string;
  time: string;
  seconds: number;
  queryId: number | null;
  pixels: number;
}

/** Runs, images, partial masks and the provenance of labelled units. */
export class MaskStore {
  constructor(private readonly s: StoreDatabase) {}

  /**
   * Registers a run with its pool images (empty masks) once; opening an existing run checks that
   * it was made with the same strategy, units and images.
   */
  ensureRun(name: string, spec: RunSpec): void {
    this.s.check();
    this.s.writeTransaction(() => {
      const row = this.s.db.prepare('SELECT strategy, seed, units FROM runs WHERE name = ?').get(name) as
        { strategy: string; seed: number; units: string } | undefined;
      if (row !== undefined) {
        if (row.strategy !== spec.strategy || row.seed !== spec.seed || row.units !== JSON.stringify(spec.units)) {
          throw new LabelStoreError(
            'mismatch',
            `run '${name}' in ${this.s.file} was made with strategy ${row.strategy}, seed ${row.seed}, units ${row.units}; now ${spec.strategy}, ${spec.seed}, ${JSON.stringify(spec.units)} (use another output folder)`,
          );
        }
        const images = this.s.db
          .prepare('SELECT image_id AS id, image_index AS "index", width, height FROM images WHERE run = ? ORDER BY image_index')
          .all(name) as StoreImage[];
        const same =
          images.length === spec.images.length &&
          images.every((im, i) => im.id === spec.images[i].id && im.width === spec.images[i].width && im.height === spec.images[i].height);
        if (!same)
          throw new LabelStoreError(
            'mismatch',
            `run '${name}' in ${this.s.file} holds another pool (${images.length} images) than the config's (${spec.images.length}); use another output folder`,
          );
        return;
      }
      const palette = spec.palette ?? spec.classNames.map((_, i) => [(i * 67) % 256, (i * 131 + 60) % 256, (i * 197 + 120) % 256]);
      this.s.db
        .prepare('INSERT INTO runs (name, strategy, seed, units, class_names, palette, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(name, spec.strategy, spec.seed, JSON.stringify(spec.units), JSON.stringify(spec.classNames), JSON.stringify(palette), iso(this.s.now()));
      const insert = this.s.db.prepare('INSERT INTO images (run, image_id, image_index, width, height, mask, covered) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const im of spec.images)
        insert.run(name, im.id, im.index, im.width, im.height, Buffer.alloc(im.width * im.height, IGNORE), Buffer.alloc(im.width * im.height, 0));
    })();
  }

  runs(): RunInfo[] {
    this.s.check();
    const rows = this.s.db.prepare('SELECT name FROM runs ORDER BY name').all() as { name: string }[];
    return rows.map((r) => this.run(r.name));
  }

  run(name: string): RunInfo {
    this.s.check();
    const row = this.s.db.prepare('SELECT * FROM runs WHERE name = ?').get(name) as Record<string, any> | undefined;
    if (row === undefined) throw new LabelStoreError('not-found', `no run '${name}' in ${this.s.file}`);
    const stats = this.s.db
      .prepare(
        'SELECT COUNT(*) AS n, SUM(width * height) AS pixels, SUM(labelled_pixels) AS labelled, SUM(covered_pixels) AS covered FROM images WHERE run = ?',
      )
      .get(name) as {
      n: number;
      pixels: number;
      labelled: number;
      covered: number;
    };
    const units = (this.s.db.prepare('SELECT COUNT(*) AS n FROM labels WHERE run = ?').get(name) as { n: number }).n;
    return {
      name,
      strategy: row.strategy,
      seed: row.seed,
      units: JSON.parse(row.units),
      classNames: JSON.parse(row.class_names),
      palette: JSON.parse(row.palette),
      images: stats.n,
      pixels: stats.pixels ?? 0,
      labelledPixels: stats.labelled ?? 0,
      coveredPixels: stats.covered ?? 0,
      labelledUnits: units,
    };
  }

  images(run: string): (StoreImage & { labelledPixels: number })[] {
    this.s.check();
    return this.s.db
      .prepare('SELECT image_id AS id, image_index AS "index", width, height, labelled_pixels AS labelledPixels FROM images WHERE run = ? ORDER BY image_index')
      .all(run) as (StoreImage & { labelledPixels: number })[];
  }

  /** The partial mask of an image (a copy). */
  mask(run: string, imageId: string): { width: number; height: number; data: Uint8Array } {
    this.s.check();
    const row = this.s.db.prepare('SELECT width, height, mask FROM images WHERE run = ? AND image_id = ?').get(run, imageId) as
      { width: number; height: number; mask: Buffer } | undefined;
    if (row === undefined) throw new LabelStoreError('not-found', `run '${run}' has no image '${imageId}'`);
    return { width: row.width, height: row.height, data: new Uint8Array(row.mask) };
  }

  /** Masks of the images with at least one labelled pixel, by image id (in pool order). */
  labelledMasks(run: string): Map<string, { index: number; width: number; height: number; data: Uint8Array }> {
    this.s.check();
    const rows = this.s.db
      .prepare('SELECT image_id, image_index, width, height, mask FROM images WHERE run = ? AND labelled_pixels > 0 ORDER BY image_index')
      .all(run) as {
      image_id: string;
      image_index: number;
      width: number;
      height: number;
      mask: Buffer;
    }[];
    return new Map(rows.map((r) => [r.image_id, { index: r.image_index, width: r.width, height: r.height, data: new Uint8Array(r.mask) }]));
  }

  /** Provenance of the labelled units (all, or of one image / round). */
  labelledUnits(run: string, filter: { imageId?: string; round?: number } = {}): LabelledUnit[] {
    this.s.check();
    const where = ['run = @run'];
    if (filter.imageId !== undefined) where.push('image_id = @imageId');
    if (filter.round !== undefined) where.push('round = @round');
    const rows = this.s.db.prepare(`SELECT * FROM labels WHERE ${where.join(' AND ')} ORDER BY round, image_id, unit`).all({ run, ...filter }) as Record<
      string,
      any
    >[];
    return rows.map((r) => ({
      imageId: r.image_id,
      unit: r.unit,
      round: r.round,
      strategy: r.strategy,
      checkpoint: r.checkpoint,
      annotator: r.annotator,
      time: r.labelled_at,
      seconds: r.seconds,
      queryId: r.query_id,
      pixels: r.pixels,
    }));
  }

  /** 0/1 masks of the pixels covered by labelled units, for the images with any, by image id. */
  coveredMasks(run: string): Map<string, Uint8Array> {
    this.s.check();
    const rows = this.s.db.prepare('SELECT image_id, covered FROM images WHERE run = ? AND covered_pixels > 0 ORDER BY image_index').all(run) as {
      image_id: string;
      covered: Buffer;
    }[];
    return new Map(rows.map((r) => [r.image_id, new Uint8Array(r.covered)]));
  }

  /** Writes unit labels and their provenance; must run inside a transaction. */
  applyUnitLabels(run: string, units: UnitLabels[], provenance: Provenance, queryId: number | null, time: string): void {
    const byImage = new Map<string, UnitLabels[]>();
    for (const u of units) {
      const list = byImage.get(u.imageId) ?? [];
      list.push(u);
      byImage.set(u.imageId, list);
    }
    const getMask = this.s.db.prepare('SELECT width, height, mask, covered FROM images WHERE run = ? AND image_id = ?');
    const setMask = this.s.db.prepare(
      'UPDATE images SET mask = ?, covered = ?, labelled_pixels = ?, covered_pixels = ?, updated_at = ? WHERE run = ? AND image_id = ?',
    );
    const insertLabel = this.s.db.prepare(`
      INSERT INTO labels (run, image_id, unit, round, strategy, checkpoint, annotator, labelled_at, seconds, query_id, pixels)
      VALUES (@run, @imageId, @unit, @round, @strategy, @checkpoint, @annotator, @time, @seconds, @queryId, @pixels)
      ON CONFLICT (run, image_id, unit) DO UPDATE SET round = excluded.round, strategy = excluded.strategy,
        checkpoint = excluded.checkpoint, annotator = excluded.annotator, labelled_at = excluded.labelled_at,
        seconds = excluded.seconds, query_id = excluded.query_id, pixels = excluded.pixels`);
    const perUnitSeconds = units.length > 0 ? provenance.seconds / units.length : 0;
    for (const [imageId, list] of byImage) {
      const row = getMask.get(run, imageId) as { width: number; height: number; mask: Buffer; covered: Buffer } | undefined;
      if (row === undefined) throw new LabelStoreError('not-found', `run '${run}' has no image '${imageId}'`);
      const mask = new Uint8Array(row.mask);
      const covered = new Uint8Array(row.covered);
      for (const u of list) {
        if (u.values.length !== u.pixelIndices.length)
          throw new LabelStoreError('invalid', `unit ${u.unit} of '${imageId}': ${u.values.length} values for ${u.pixelIndices.length} pixels`);
        checkIndices(`unit ${u.unit} of '${imageId}'`, u.pixelIndices, mask.length);
        for (let i = 0; i < u.pixelIndices.length; i++) {
          mask[u.pixelIndices[i]] = u.values[i];
          covered[u.pixelIndices[i]] = 1;
        }
        insertLabel.run({
          run,
          imageId,
          unit: u.unit,
          round: provenance.round,
          strategy: provenance.strategy,
          checkpoint: provenance.checkpoint,
          annotator: provenance.annotator,
          time,
          seconds: perUnitSeconds,
          queryId,
          pixels: u.pixelIndices.length,
        });
      }
      let labelled = 0;
      let coveredCount = 0;
      for (let i = 0; i < mask.length; i++) {
        if (mask[i] !== IGNORE) labelled++;
        coveredCount += covered[i];
      }
      setMask.run(blob(mask), blob(covered), labelled, coveredCount, time, run, imageId);
    }
  }
}
