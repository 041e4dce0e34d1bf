// Masks made elsewhere (`adaseg labels import`), written into a run's masks in one transaction and
// recorded with their provenance (annotator, time, source file and its SHA-256); mask-files.ts
// reads the PNG files.
import { blob, IGNORE, iso, LabelStoreError, type StoreDatabase } from './database.js';
import type { MaskStore } from './masks.js';

/** A whole-image mask made elsewhere (`adaseg labels import`): train ids, 255 = no label here. */
export interface ImportedMask {
  imageId: string;
  /** width x height train ids (row-major); 255 leaves the store's pixel as it is. */
  data: Uint8Array;
  /** Where the mask came from (a file), and the SHA-256 of its bytes: recorded as provenance. */
  source: string;
  sha256: string | null;
}

/** One imported mask as recorded (provenance of labels that came from no query). */
export interface MaskImport {
  id: number;
  run: string;
  imageId: string;
  annotator: string;
  time: string;
  source: string;
  sha256: string | null;
  /** Pixels with a class in the imported mask. */
  labelledPixels: number;
  /** Pixels whose stored value or coverage the import changed. */
  changedPixels: number;
  /** Pixels that held another label and were replaced (only with `overwrite`). */
  overwrittenPixels: number;
}

export interface MaskImportSummary {
  /** Masks with at least one labelled pixel (the others change nothing and are not recorded). */
  images: number;
  labelledPixels: number;
  changedPixels: number;
  overwrittenPixels: number;
  perImage: { imageId: string; labelledPixels: number; changedPixels: number; overwrittenPixels: number }[];
  /** True when nothing was written (`dryRun`). */
  dryRun: boolean;
}

/** Imported masks and their records. */
export class MaskImports {
  constructor(
    private readonly s: StoreDatabase,
    private readonly masks: MaskStore,
  ) {}

  /**
   * Writes whole-image masks made elsewhere into a run, in one transaction: a pixel with a class
   * in the mask gets that class and counts as covered; 255 leaves the pixel as it is, so an import
   * never erases a label. A pixel already covered (by a unit, an answer or an earlier import)
   * whose stored value differs from the imported class is a conflict: without `overwrite` the
   * whole import is refused (LabelStoreError 'conflict', every conflicting image named) and
   * nothing changes; with it the imported class wins. Re-importing the same masks changes nothing.
   * Each mask with labels is recorded in `mask_imports` (annotator, time, source, pixels).
   */
  importMasks(run: string, masks: ImportedMask[], options: { annotator: string; overwrite?: boolean; dryRun?: boolean }): MaskImportSummary {
    this.s.check();
    if (typeof options.annotator !== 'string' || options.annotator.length === 0) throw new LabelStoreError('invalid', "an import needs the annotator's name");
    return this.s.writeTransaction(() => {
      const classes = this.masks.run(run).classNames.length;
      const getImage = this.s.db.prepare('SELECT width, height, mask, covered FROM images WHERE run = ? AND image_id = ?');
      const seen = new Set<string>();
      const plans: { imageId: string; mask: Uint8Array; covered: Uint8Array; m: ImportedMask; labelled: number; changed: number; overwritten: number }[] = [];
      const conflicts: string[] = [];
      let conflicting = 0;
      for (const m of masks) {
        if (seen.has(m.imageId)) throw new LabelStoreError('invalid', `image '${m.imageId}' is imported twice (${m.source})`);
        seen.add(m.imageId);
        const row = getImage.get(run, m.imageId) as { width: number; height: number; mask: Buffer; covered: Buffer } | undefined;
        if (row === undefined) throw new LabelStoreError('not-found', `run '${run}' has no image '${m.imageId}' (${m.source})`);
        if (!(m.data instanceof Uint8Array) || m.data.length !== row.width * row.height)
          throw new LabelStoreError(
            'invalid',
            `${m.source}: ${m.data?.length} values, image '${m.imageId}' is ${row.width}x${row.height} (${row.width * row.height})`,
          );
        const mask = new Uint8Array(row.mask);
        const covered = new Uint8Array(row.covered);
        let labelled = 0,
          changed = 0,
          clash = 0,
          first = -1;
        for (let p = 0; p < m.data.length; p++) {
          const v = m.data[p];
          if (v === IGNORE) continue;
          if (v >= classes) throw new LabelStoreError('invalid', `${m.source}: value ${v} at pixel ${p} is neither a class id 0..${classes - 1} nor 255`);
          labelled++;
          if (covered[p] === 1 && mask[p] === v) continue;
          if (covered[p] === 1) {
            clash++;
            if (first < 0) first = p;
          }
          changed++;
        }
        if (clash > 0) {
          conflicting += clash;
          const x = first % row.width,
            y = (first - x) / row.width;
          conflicts.push(`'${m.imageId}' ${clash} px (first at x=${x}, y=${y}: stored ${mask[first]}, imported ${m.data[first]})`);
        }
        const overwritten = clash;
        if (labelled > 0) plans.push({ imageId: m.imageId, mask, covered, m, labelled, changed, overwritten });
      }
      if (conflicts.length > 0 && !options.overwrite) {
        const shown = conflicts.slice(0, 10).join('; ') + (conflicts.length > 10 ? `; and ${conflicts.length - 10} more image(s)` : '');
        throw new LabelStoreError(
          'conflict',
          `${conflicting} pixel(s) in ${conflicts.length} image(s) already hold other labels: ${shown}. Nothing was imported (import with overwrite to replace them)`,
        );
      }
      const summary: MaskImportSummary = {
        images: plans.length,
        labelledPixels: plans.reduce((s, x) => s + x.labelled, 0),
        changedPixels: plans.reduce((s, x) => s + x.changed, 0),
        overwrittenPixels: plans.reduce((s, x) => s + x.overwritten, 0),
        perImage: plans.map((x) => ({ imageId: x.imageId, labelledPixels: x.labelled, changedPixels: x.changed, overwrittenPixels: x.overwritten })),
        dryRun: options.dryRun === true,
      };
      if (options.dryRun) return summary;
      const time = iso(this.s.now());
      const setMask = this.s.db.prepare(
        'UPDATE images SET mask = ?, covered = ?, labelled_pixels = ?, covered_pixels = ?, updated_at = ? WHERE run = ? AND image_id = ?',
      );
      const record = this.s.db.prepare(
        'INSERT INTO mask_imports (run, image_id, annotator, imported_at, source, sha256, labelled_pixels, changed_pixels, overwritten_pixels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const x of plans) {
        const { mask, covered } = x;
        for (let p = 0; p < mask.length; p++) {
          const v = x.m.data[p];
          if (v === IGNORE) continue;
          mask[p] = v;
          covered[p] = 1;
        }
        let labelled = 0,
          coveredCount = 0;
        for (let p = 0; p < mask.length; p++) {
          if (mask[p] !== IGNORE) labelled++;
          coveredCount += covered[p];
        }
        if (x.changed > 0) setMask.run(blob(mask), blob(covered), labelled, coveredCount, time, run, x.imageId);
        record.run(run, x.imageId, options.annotator, time, x.m.source, x.m.sha256, x.labelled, x.changed, x.overwritten);
      }
      return summary;
    })();
  }

  /** The recorded mask imports of a run (oldest first); none for stores made before imports existed. */
  maskImports(run: string): MaskImport[] {
    this.s.check();
    const exists = this.s.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mask_imports'").get();
    if (exists === undefined) return [];
    const rows = this.s.db.prepare('SELECT * FROM mask_imports WHERE run = ? ORDER BY id').all(run) as Record<string, any>[];
    return rows.map((r) => ({
      id: r.id,
      run: r.run,
      imageId: r.image_id,
      annotator: r.annotator,
      time: r.imported_at,
      source: r.source,
      sha256: r.sha256,
      labelledPixels: r.labelled_pixels,
      changedPixels: r.changed_pixels,
      overwrittenPixels: r.overwritten_pixels,
    }));
  }
}
