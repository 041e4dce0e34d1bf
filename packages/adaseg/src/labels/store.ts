// The label store: one SQLite file (WAL mode) per experiment holding, for every active run
// (a strategy and a seed), each target pool image's partial label mask (train ids, 255 = unknown),
// the provenance of every labelled unit (round, strategy, model checkpoint, annotator, time,
// seconds spent, query), the loop's progress per round (selection, annotation, training,
// evaluation), and the queries of the human annotator interface with their leases.
//
// Every change is one transaction: a round's simulated labels (with the round's 'annotated' mark),
// one answered query, one round's selection or queries. An interrupted process therefore leaves
// either all of a change or none of it, and a restarted run reads where it stopped from here.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { encodeIndexedPng } from '../data/png.js';
import type { UnitConfig, UnitRef } from '../active/types.js';

export const IGNORE = 255;
const SCHEMA_VERSION = 1;

export type QueryKind = 'region-class' | 'pixel-paint';
export type QueryStatus = 'open' | 'answered' | 'cancelled';
export type RoundPhase = 'selected' | 'querying' | 'annotated' | 'trained' | 'evaluated';
const PHASES: readonly RoundPhase[] = ['selected', 'querying', 'annotated', 'trained', 'evaluated'];

/** Why a store operation was refused (bad input, a double answer, a lease held by another...). */
export class LabelStoreError extends Error {
  constructor(
    readonly code: 'not-found' | 'conflict' | 'invalid' | 'closed' | 'mismatch',
    message: string,
  ) {
    super(message);
    this.name = 'LabelStoreError';
  }
}

export interface StoreImage {
  /** Id and index of the image in the pool's sample list. */
  id: string;
  index: number;
  /** Size of the label mask (the working resolution of the loop). */
  width: number;
  height: number;
}

/**
 * A directory name for a strategy label: 'ripu-region (k=1)' → 'ripu-region-k-1'. The loop names
 * a run '<slug of the strategy label>/seed-N'.
 */
export function slug(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-+|-+$/g, '') || 'strategy';
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

/** A selected unit with the pixels (row-major indices in the image's mask) it covers. */
export interface UnitPixels extends UnitRef {
  pixelIndices: Uint32Array;
  score?: number;
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

export interface RoundState {
  run: string;
  round: number;
  phase: RoundPhase;
  selectedAt: string | null;
  annotatedAt: string | null;
  trainedAt: string | null;
  evaluatedAt: string | null;
  /** The checkpoint the round's selection was scored with. */
  scoredWith: string | null;
  /** The round's trained model. */
  checkpoint: string | null;
  /** What the loop records (budget, pixels, mIoU...). */
  info: Record<string, unknown>;
}

export interface QueryUnit {
  unit: number;
  pixelIndices: Uint32Array;
}

export interface Query {
  id: number;
  run: string;
  round: number;
  imageId: string;
  imageIndex: number;
  width: number;
  height: number;
  kind: QueryKind;
  units: QueryUnit[];
  /** Pixels the query covers (all its units). */
  pixels: number;
  status: QueryStatus;
  /** Who holds it and until when (ms since the epoch); a lease past its expiry no longer counts. */
  leaseOwner: string | null;
  leaseExpires: number | null;
  strategy: string;
  checkpoint: string | null;
  createdAt: string;
  answeredBy: string | null;
  answeredAt: string | null;
  seconds: number | null;
}

export interface NewQuery {
  imageId: string;
  kind: QueryKind;
  units: QueryUnit[];
}

/**
 * An answer: `classes` gives one train id per unit of a region-class query (in the query's unit
 * order; 255 = none of the classes, e.g. void); `mask` gives train ids for the whole image
 * (width x height, row-major) of a pixel-paint query, of which only the queried pixels are used.
 */
export type QueryAnswer = { classes: number[]; mask?: undefined } | { mask: Uint8Array; classes?: undefined };

export interface QueryProgress {
  total: number;
  answered: number;
  open: number;
  leased: number;
  cancelled: number;
}

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

export interface LabelStoreOptions {
  readonly?: boolean;
  /** How long a write waits for another process's transaction (default 10 s). */
  busyTimeoutMs?: number;
  /** The clock (ms since the epoch) for leases; tests move it. */
  now?: () => number;
}

const u32 = (b: Buffer | Uint8Array): Uint32Array => {
  // Copy: SQLite's buffer need not be 4-byte aligned.
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Uint32Array(copy.buffer, 0, copy.byteLength / 4);
};
const blob = (a: Uint32Array | Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const iso = (ms: number) => new Date(ms).toISOString();

function checkIndices(what: string, pixels: Uint32Array, size: number): void {
  for (let i = 0; i < pixels.length; i++) {
    if (pixels[i] >= size) throw new LabelStoreError('invalid', `${what}: pixel index ${pixels[i]} is outside the ${size}-pixel mask`);
  }
}

export class LabelStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly now: () => number;
  private closed = false;

  private constructor(file: string, options: LabelStoreOptions) {
    this.file = file;
    this.now = options.now ?? Date.now;
    if (!options.readonly) mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.migrate();
    } else {
      const version = this.meta('schema');
      if (version !== String(SCHEMA_VERSION)) throw new LabelStoreError('mismatch', `${file} is not an adaseg label store (schema ${version ?? 'none'})`);
    }
  }

  /** Opens (creating when missing, unless read-only) the store at `file`. */
  static open(file: string, options: LabelStoreOptions = {}): LabelStore {
    return new LabelStore(file, options);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private migrate(): void {
    this.writeTransaction(() => this.createSchema())();
  }

  private createSchema(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS runs (
        name TEXT PRIMARY KEY, strategy TEXT NOT NULL, seed INTEGER NOT NULL, units TEXT NOT NULL,
        class_names TEXT NOT NULL, palette TEXT NOT NULL, created_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS images (
        run TEXT NOT NULL REFERENCES runs(name), image_id TEXT NOT NULL, image_index INTEGER NOT NULL,
        width INTEGER NOT NULL, height INTEGER NOT NULL, mask BLOB NOT NULL, covered BLOB NOT NULL,
        labelled_pixels INTEGER NOT NULL DEFAULT 0, covered_pixels INTEGER NOT NULL DEFAULT 0, updated_at TEXT,
        PRIMARY KEY (run, image_id));
      CREATE TABLE IF NOT EXISTS labels (
        run TEXT NOT NULL, image_id TEXT NOT NULL, unit INTEGER NOT NULL, round INTEGER NOT NULL,
        strategy TEXT NOT NULL, checkpoint TEXT, annotator TEXT NOT NULL, labelled_at TEXT NOT NULL,
        seconds REAL NOT NULL, query_id INTEGER, pixels INTEGER NOT NULL,
        PRIMARY KEY (run, image_id, unit), FOREIGN KEY (run, image_id) REFERENCES images(run, image_id));
      CREATE TABLE IF NOT EXISTS rounds (
        run TEXT NOT NULL REFERENCES runs(name), round INTEGER NOT NULL, phase TEXT NOT NULL,
        selected_at TEXT, annotated_at TEXT, trained_at TEXT, evaluated_at TEXT,
        scored_with TEXT, checkpoint TEXT, info TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run, round));
      CREATE TABLE IF NOT EXISTS selections (
        run TEXT NOT NULL, round INTEGER NOT NULL, position INTEGER NOT NULL, image_id TEXT NOT NULL,
        image_index INTEGER NOT NULL, unit INTEGER NOT NULL, pixels INTEGER NOT NULL, score REAL,
        pixel_indices BLOB NOT NULL,
        PRIMARY KEY (run, round, position));
      CREATE TABLE IF NOT EXISTS queries (
        id INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL, round INTEGER NOT NULL,
        image_id TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('region-class', 'pixel-paint')),
        pixels INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'cancelled')),
        lease_owner TEXT, lease_expires INTEGER, strategy TEXT NOT NULL, checkpoint TEXT,
        created_at TEXT NOT NULL, answered_by TEXT, answered_at TEXT, seconds REAL,
        FOREIGN KEY (run, image_id) REFERENCES images(run, image_id));
      CREATE INDEX IF NOT EXISTS queries_by_round ON queries (run, round, status);
      CREATE TABLE IF NOT EXISTS query_units (
        query_id INTEGER NOT NULL REFERENCES queries(id), position INTEGER NOT NULL, unit INTEGER NOT NULL,
        pixel_indices BLOB NOT NULL, PRIMARY KEY (query_id, position));
      CREATE TABLE IF NOT EXISTS mask_imports (
        id INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL, image_id TEXT NOT NULL,
        annotator TEXT NOT NULL, imported_at TEXT NOT NULL, source TEXT NOT NULL, sha256 TEXT,
        labelled_pixels INTEGER NOT NULL, changed_pixels INTEGER NOT NULL, overwritten_pixels INTEGER NOT NULL,
        FOREIGN KEY (run, image_id) REFERENCES images(run, image_id));
    `);
    const version = this.meta('schema');
    if (version === undefined) this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema', String(SCHEMA_VERSION));
    else if (version !== String(SCHEMA_VERSION)) throw new LabelStoreError('mismatch', `${this.file} has label store schema ${version}, this adaseg reads ${SCHEMA_VERSION}`);
  }

  /**
   * A write transaction that takes the write lock when it begins (BEGIN IMMEDIATE): several
   * processes share a store (one per seed), and a deferred transaction that read first and then
   * wants to write fails at once with "database is locked" when another process wrote in
   * between; SQLite's busy timeout only covers waiting for the lock at BEGIN. Nested calls run as
   * savepoints of the outer transaction.
   */
  private writeTransaction<T>(fn: () => T): () => T {
    const transaction = this.db.transaction(fn);
    return () => transaction.immediate();
  }

  private meta(key: string): string | undefined {
    try {
      return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
    } catch {
      return undefined;
    }
  }

  private check(): void {
    if (this.closed) throw new LabelStoreError('closed', `the label store ${this.file} is closed`);
  }

  // ---- runs and images ----

  /**
   * Registers a run with its pool images (empty masks) once; opening an existing run checks that
   * it was made with the same strategy, units and images.
   */
  ensureRun(name: string, spec: RunSpec): void {
    this.check();
    this.writeTransaction(() => {
      const row = this.db.prepare('SELECT strategy, seed, units FROM runs WHERE name = ?').get(name) as { strategy: string; seed: number; units: string } | undefined;
      if (row !== undefined) {
        if (row.strategy !== spec.strategy || row.seed !== spec.seed || row.units !== JSON.stringify(spec.units)) {
          throw new LabelStoreError('mismatch', `run '${name}' in ${this.file} was made with strategy ${row.strategy}, seed ${row.seed}, units ${row.units}; now ${spec.strategy}, ${spec.seed}, ${JSON.stringify(spec.units)} (use another output folder)`);
        }
        const images = this.db.prepare('SELECT image_id AS id, image_index AS "index", width, height FROM images WHERE run = ? ORDER BY image_index').all(name) as StoreImage[];
        const same = images.length === spec.images.length && images.every((im, i) => im.id === spec.images[i].id && im.width === spec.images[i].width && im.height === spec.images[i].height);
        if (!same) throw new LabelStoreError('mismatch', `run '${name}' in ${this.file} holds another pool (${images.length} images) than the config's (${spec.images.length}); use another output folder`);
        return;
      }
      const palette = spec.palette ?? spec.classNames.map((_, i) => [(i * 67) % 256, (i * 131 + 60) % 256, (i * 197 + 120) % 256]);
      this.db
        .prepare('INSERT INTO runs (name, strategy, seed, units, class_names, palette, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(name, spec.strategy, spec.seed, JSON.stringify(spec.units), JSON.stringify(spec.classNames), JSON.stringify(palette), iso(this.now()));
      const insert = this.db.prepare('INSERT INTO images (run, image_id, image_index, width, height, mask, covered) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const im of spec.images) insert.run(name, im.id, im.index, im.width, im.height, Buffer.alloc(im.width * im.height, IGNORE), Buffer.alloc(im.width * im.height, 0));
    })();
  }

  runs(): RunInfo[] {
    this.check();
    const rows = this.db.prepare('SELECT name FROM runs ORDER BY name').all() as { name: string }[];
    return rows.map((r) => this.run(r.name));
  }

  run(name: string): RunInfo {
    this.check();
    const row = this.db.prepare('SELECT * FROM runs WHERE name = ?').get(name) as Record<string, any> | undefined;
    if (row === undefined) throw new LabelStoreError('not-found', `no run '${name}' in ${this.file}`);
    const stats = this.db.prepare('SELECT COUNT(*) AS n, SUM(width * height) AS pixels, SUM(labelled_pixels) AS labelled, SUM(covered_pixels) AS covered FROM images WHERE run = ?').get(name) as {
      n: number;
      pixels: number;
      labelled: number;
      covered: number;
    };
    const units = (this.db.prepare('SELECT COUNT(*) AS n FROM labels WHERE run = ?').get(name) as { n: number }).n;
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
    this.check();
    return this.db.prepare('SELECT image_id AS id, image_index AS "index", width, height, labelled_pixels AS labelledPixels FROM images WHERE run = ? ORDER BY image_index').all(run) as (StoreImage & { labelledPixels: number })[];
  }

  /** The partial mask of an image (a copy). */
  mask(run: string, imageId: string): { width: number; height: number; data: Uint8Array } {
    this.check();
    const row = this.db.prepare('SELECT width, height, mask FROM images WHERE run = ? AND image_id = ?').get(run, imageId) as { width: number; height: number; mask: Buffer } | undefined;
    if (row === undefined) throw new LabelStoreError('not-found', `run '${run}' has no image '${imageId}'`);
    return { width: row.width, height: row.height, data: new Uint8Array(row.mask) };
  }

  /** Masks of the images with at least one labelled pixel, by image id (in pool order). */
  labelledMasks(run: string): Map<string, { index: number; width: number; height: number; data: Uint8Array }> {
    this.check();
    const rows = this.db.prepare('SELECT image_id, image_index, width, height, mask FROM images WHERE run = ? AND labelled_pixels > 0 ORDER BY image_index').all(run) as {
      image_id: string;
      image_index: number;
      width: number;
      height: number;
      mask: Buffer;
    }[];
    return new Map(rows.map((r) => [r.image_id, { index: r.image_index, width: r.width, height: r.height, data: new Uint8Array(r.mask) }]));
  }

  /** Pixels of the run's pool that are labelled (a class, not 255). */
  labelledPixels(run: string): number {
    return this.run(run).labelledPixels;
  }

  /** Provenance of the labelled units (all, or of one image / round). */
  labelledUnits(run: string, filter: { imageId?: string; round?: number } = {}): LabelledUnit[] {
    this.check();
    const where = ['run = @run'];
    if (filter.imageId !== undefined) where.push('image_id = @imageId');
    if (filter.round !== undefined) where.push('round = @round');
    const rows = this.db.prepare(`SELECT * FROM labels WHERE ${where.join(' AND ')} ORDER BY round, image_id, unit`).all({ run, ...filter }) as Record<string, any>[];
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

  /** Pixels covered by labelled units (whatever their values: void regions count too). */
  coveredPixels(run: string): number {
    return this.run(run).coveredPixels;
  }

  /** 0/1 masks of the pixels covered by labelled units, for the images with any, by image id. */
  coveredMasks(run: string): Map<string, Uint8Array> {
    this.check();
    const rows = this.db.prepare('SELECT image_id, covered FROM images WHERE run = ? AND covered_pixels > 0 ORDER BY image_index').all(run) as { image_id: string; covered: Buffer }[];
    return new Map(rows.map((r) => [r.image_id, new Uint8Array(r.covered)]));
  }

  /** Writes unit labels and their provenance; must run inside a transaction. */
  private applyUnitLabels(run: string, units: UnitLabels[], provenance: Provenance, queryId: number | null, time: string): void {
    const byImage = new Map<string, UnitLabels[]>();
    for (const u of units) {
      const list = byImage.get(u.imageId) ?? [];
      list.push(u);
      byImage.set(u.imageId, list);
    }
    const getMask = this.db.prepare('SELECT width, height, mask, covered FROM images WHERE run = ? AND image_id = ?');
    const setMask = this.db.prepare('UPDATE images SET mask = ?, covered = ?, labelled_pixels = ?, covered_pixels = ?, updated_at = ? WHERE run = ? AND image_id = ?');
    const insertLabel = this.db.prepare(`
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
        if (u.values.length !== u.pixelIndices.length) throw new LabelStoreError('invalid', `unit ${u.unit} of '${imageId}': ${u.values.length} values for ${u.pixelIndices.length} pixels`);
        checkIndices(`unit ${u.unit} of '${imageId}'`, u.pixelIndices, mask.length);
        for (let i = 0; i < u.pixelIndices.length; i++) {
          mask[u.pixelIndices[i]] = u.values[i];
          covered[u.pixelIndices[i]] = 1;
        }
        insertLabel.run({ run, imageId, unit: u.unit, round: provenance.round, strategy: provenance.strategy, checkpoint: provenance.checkpoint, annotator: provenance.annotator, time, seconds: perUnitSeconds, queryId, pixels: u.pixelIndices.length });
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

  /**
   * Labels units of a round in one transaction (the simulated annotator's round); with
   * `completeRound` the round is marked annotated in the same transaction, so a crash leaves
   * either the whole round labelled and marked, or nothing.
   */
  labelUnits(run: string, units: UnitLabels[], provenance: Provenance, options: { completeRound?: boolean; info?: Record<string, unknown> } = {}): void {
    this.check();
    this.writeTransaction(() => {
      const time = iso(this.now());
      this.applyUnitLabels(run, units, provenance, null, time);
      if (options.completeRound) this.setPhase(run, provenance.round, 'annotated', { info: options.info });
    })();
  }

  // ---- rounds (the loop's progress) ----

  round(run: string, round: number): RoundState | undefined {
    this.check();
    const r = this.db.prepare('SELECT * FROM rounds WHERE run = ? AND round = ?').get(run, round) as Record<string, any> | undefined;
    return r === undefined ? undefined : this.roundFrom(r);
  }

  rounds(run: string): RoundState[] {
    this.check();
    return (this.db.prepare('SELECT * FROM rounds WHERE run = ? ORDER BY round').all(run) as Record<string, any>[]).map((r) => this.roundFrom(r));
  }

  private roundFrom(r: Record<string, any>): RoundState {
    return {
      run: r.run,
      round: r.round,
      phase: r.phase,
      selectedAt: r.selected_at,
      annotatedAt: r.annotated_at,
      trainedAt: r.trained_at,
      evaluatedAt: r.evaluated_at,
      scoredWith: r.scored_with,
      checkpoint: r.checkpoint,
      info: JSON.parse(r.info),
    };
  }

  /** Moves a round forward (never back) to `phase`, merging `info`; call inside or outside a transaction. */
  setPhase(run: string, round: number, phase: RoundPhase, fields: { checkpoint?: string; info?: Record<string, unknown> } = {}): void {
    this.check();
    const apply = () => {
      const existing = this.round(run, round);
      if (existing === undefined) throw new LabelStoreError('not-found', `run '${run}' has no round ${round} (it must be selected first)`);
      const at = iso(this.now());
      const phase2 = PHASES.indexOf(phase) > PHASES.indexOf(existing.phase) ? phase : existing.phase;
      const column = { selected: 'selected_at', querying: 'selected_at', annotated: 'annotated_at', trained: 'trained_at', evaluated: 'evaluated_at' }[phase];
      this.db
        .prepare(`UPDATE rounds SET phase = ?, ${column} = COALESCE(${column}, ?), checkpoint = COALESCE(?, checkpoint), info = ? WHERE run = ? AND round = ?`)
        .run(phase2, at, fields.checkpoint ?? null, JSON.stringify({ ...existing.info, ...(fields.info ?? {}) }), run, round);
    };
    if (this.db.inTransaction) apply();
    else this.writeTransaction(apply)();
  }

  /**
   * Records a round's selection (its units and their pixels) and starts the round, in one
   * transaction. A round selected before keeps its selection (the loop resumes with it).
   */
  saveSelection(run: string, round: number, units: UnitPixels[], fields: { scoredWith: string | null; info?: Record<string, unknown> }): void {
    this.check();
    this.writeTransaction(() => {
      if (this.round(run, round) !== undefined) return;
      const previous = this.db.prepare('SELECT MAX(round) AS r FROM rounds WHERE run = ?').get(run) as { r: number | null };
      if (previous.r !== null && previous.r !== round - 1) throw new LabelStoreError('conflict', `run '${run}': round ${round} selected after round ${previous.r}`);
      if (previous.r !== null && this.round(run, previous.r)!.phase !== 'evaluated') throw new LabelStoreError('conflict', `run '${run}': round ${round} selected before round ${previous.r} was finished`);
      this.db
        .prepare("INSERT INTO rounds (run, round, phase, selected_at, scored_with, info) VALUES (?, ?, 'selected', ?, ?, ?)")
        .run(run, round, iso(this.now()), fields.scoredWith, JSON.stringify(fields.info ?? {}));
      const insert = this.db.prepare('INSERT INTO selections (run, round, position, image_id, image_index, unit, pixels, score, pixel_indices) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      const sizes = new Map(this.images(run).map((im) => [im.id, im.width * im.height]));
      units.forEach((u, i) => {
        const size = sizes.get(u.imageId);
        if (size === undefined) throw new LabelStoreError('not-found', `run '${run}' has no image '${u.imageId}'`);
        checkIndices(`selected unit ${u.unit} of '${u.imageId}'`, u.pixelIndices, size);
        insert.run(run, round, i, u.imageId, u.image, u.unit, u.pixelIndices.length, u.score ?? null, blob(u.pixelIndices));
      });
    })();
  }

  /** The units selected in a round, in selection order. */
  selection(run: string, round: number): UnitPixels[] {
    this.check();
    const rows = this.db.prepare('SELECT * FROM selections WHERE run = ? AND round = ? ORDER BY position').all(run, round) as Record<string, any>[];
    return rows.map((r) => ({ image: r.image_index, imageId: r.image_id, unit: r.unit, pixels: r.pixels, pixelIndices: u32(r.pixel_indices), ...(r.score !== null ? { score: r.score } : {}) }));
  }

  // ---- queries (the human annotator interface) ----

  /**
   * Writes a round's queries in one transaction and marks the round 'querying'. Idempotent: when
   * the round already has queries, nothing is written and the existing ones are returned.
   */
  createQueries(run: string, round: number, queries: NewQuery[], fields: { strategy: string; checkpoint: string | null }): Query[] {
    this.check();
    return this.writeTransaction(() => {
      const existing = this.queries({ run, round });
      if (existing.length > 0) return existing;
      const state = this.round(run, round);
      if (state === undefined) throw new LabelStoreError('not-found', `run '${run}' has no round ${round}: select before querying`);
      const sizes = new Map(this.images(run).map((im) => [im.id, im.width * im.height]));
      const insert = this.db.prepare('INSERT INTO queries (run, round, image_id, kind, pixels, strategy, checkpoint, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      const insertUnit = this.db.prepare('INSERT INTO query_units (query_id, position, unit, pixel_indices) VALUES (?, ?, ?, ?)');
      const time = iso(this.now());
      for (const q of queries) {
        const size = sizes.get(q.imageId);
        if (size === undefined) throw new LabelStoreError('not-found', `run '${run}' has no image '${q.imageId}'`);
        if (q.units.length === 0) throw new LabelStoreError('invalid', `a query on '${q.imageId}' needs at least one unit`);
        const pixels = q.units.reduce((s, u) => s + u.pixelIndices.length, 0);
        const id = Number(insert.run(run, round, q.imageId, q.kind, pixels, fields.strategy, fields.checkpoint, time).lastInsertRowid);
        q.units.forEach((u, i) => {
          checkIndices(`query unit ${u.unit} of '${q.imageId}'`, u.pixelIndices, size);
          insertUnit.run(id, i, u.unit, blob(u.pixelIndices));
        });
      }
      this.setPhase(run, round, 'querying');
      return this.queries({ run, round });
    })();
  }

  private queryFrom(r: Record<string, any>, withUnits: boolean): Query {
    const units = withUnits
      ? (this.db.prepare('SELECT unit, pixel_indices FROM query_units WHERE query_id = ? ORDER BY position').all(r.id) as { unit: number; pixel_indices: Buffer }[]).map((u) => ({
          unit: u.unit,
          pixelIndices: u32(u.pixel_indices),
        }))
      : [];
    return {
      id: r.id,
      run: r.run,
      round: r.round,
      imageId: r.image_id,
      imageIndex: r.image_index,
      width: r.width,
      height: r.height,
      kind: r.kind,
      units,
      pixels: r.pixels,
      status: r.status,
      leaseOwner: r.lease_owner,
      leaseExpires: r.lease_expires,
      strategy: r.strategy,
      checkpoint: r.checkpoint,
      createdAt: r.created_at,
      answeredBy: r.answered_by,
      answeredAt: r.answered_at,
      seconds: r.seconds,
    };
  }

  private static readonly QUERY_SELECT = 'SELECT q.*, i.image_index, i.width, i.height FROM queries q JOIN images i ON i.run = q.run AND i.image_id = q.image_id';

  query(id: number): Query {
    this.check();
    const r = this.db.prepare(`${LabelStore.QUERY_SELECT} WHERE q.id = ?`).get(id) as Record<string, any> | undefined;
    if (r === undefined) throw new LabelStoreError('not-found', `no query ${id}`);
    return this.queryFrom(r, true);
  }

  /** Queries by run, round and status, oldest first (with their units unless `units: false`). */
  queries(filter: { run?: string; round?: number; status?: QueryStatus; units?: boolean } = {}): Query[] {
    this.check();
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.run !== undefined) (where.push('q.run = @run'), (params.run = filter.run));
    if (filter.round !== undefined) (where.push('q.round = @round'), (params.round = filter.round));
    if (filter.status !== undefined) (where.push('q.status = @status'), (params.status = filter.status));
    const rows = this.db.prepare(`${LabelStore.QUERY_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY q.id`).all(params) as Record<string, any>[];
    return rows.map((r) => this.queryFrom(r, filter.units ?? true));
  }

  queryProgress(run: string, round: number): QueryProgress {
    this.check();
    const now = this.now();
    const rows = this.db.prepare('SELECT status, lease_owner, lease_expires FROM queries WHERE run = ? AND round = ?').all(run, round) as { status: QueryStatus; lease_owner: string | null; lease_expires: number | null }[];
    const p: QueryProgress = { total: rows.length, answered: 0, open: 0, leased: 0, cancelled: 0 };
    for (const r of rows) {
      if (r.status === 'answered') p.answered++;
      else if (r.status === 'cancelled') p.cancelled++;
      else if (r.lease_owner !== null && (r.lease_expires ?? 0) > now) p.leased++;
      else p.open++;
    }
    return p;
  }

  /**
   * Leases the oldest open query (of a run/round when given, or the one asked for) to `who` for
   * `seconds`: nobody else can lease or answer it until then. A lease past its expiry is free
   * again (the query is back in the queue). Returns null when nothing is free.
   */
  lease(who: string, options: { seconds: number; run?: string; round?: number; queryId?: number }): Query | null {
    this.check();
    if (typeof who !== 'string' || who.length === 0) throw new LabelStoreError('invalid', 'a lease needs the annotator\'s name');
    if (!(options.seconds > 0)) throw new LabelStoreError('invalid', `lease seconds must be > 0, got ${options.seconds}`);
    return this.writeTransaction(() => {
      const now = this.now();
      let id: number | undefined;
      if (options.queryId !== undefined) {
        const q = this.query(options.queryId);
        if (q.status !== 'open') throw new LabelStoreError('conflict', `query ${q.id} is ${q.status}`);
        if (q.leaseOwner !== null && q.leaseOwner !== who && (q.leaseExpires ?? 0) > now) throw new LabelStoreError('conflict', `query ${q.id} is leased by ${q.leaseOwner} until ${iso(q.leaseExpires!)}`);
        id = q.id;
      } else {
        const where = ["status = 'open'", '(lease_owner IS NULL OR lease_expires <= @now OR lease_owner = @who)'];
        if (options.run !== undefined) where.push('run = @run');
        if (options.round !== undefined) where.push('round = @round');
        const row = this.db.prepare(`SELECT id FROM queries WHERE ${where.join(' AND ')} ORDER BY (lease_owner = @who) DESC, id LIMIT 1`).get({ now, who, run: options.run, round: options.round }) as
          | { id: number }
          | undefined;
        id = row?.id;
      }
      if (id === undefined) return null;
      this.db.prepare('UPDATE queries SET lease_owner = ?, lease_expires = ? WHERE id = ?').run(who, now + Math.round(options.seconds * 1000), id);
      return this.query(id);
    })();
  }

  /** Gives a lease back before it expires (the query returns to the queue). */
  release(queryId: number, who: string): void {
    this.check();
    this.writeTransaction(() => {
      const q = this.query(queryId);
      if (q.leaseOwner !== who) throw new LabelStoreError('conflict', `query ${queryId} is not leased by ${who}`);
      this.db.prepare('UPDATE queries SET lease_owner = NULL, lease_expires = NULL WHERE id = ?').run(queryId);
    })();
  }

  /**
   * Answers a query: checks it (open, not leased by someone else, classes and mask valid), writes
   * the labels of its units with their provenance and marks it answered, in one transaction. A
   * second answer, an answer to a cancelled query or bad input changes nothing and throws.
   */
  answer(queryId: number, who: string, answer: QueryAnswer, seconds = 0): Query {
    this.check();
    if (typeof who !== 'string' || who.length === 0) throw new LabelStoreError('invalid', "an answer needs the annotator's name");
    if (!(seconds >= 0) || !Number.isFinite(seconds)) throw new LabelStoreError('invalid', `seconds must be a non-negative number, got ${seconds}`);
    return this.writeTransaction(() => {
      const now = this.now();
      const q = this.query(queryId);
      if (q.status === 'answered') throw new LabelStoreError('conflict', `query ${queryId} was already answered by ${q.answeredBy} at ${q.answeredAt}`);
      if (q.status === 'cancelled') throw new LabelStoreError('conflict', `query ${queryId} was cancelled (its round was closed)`);
      if (q.leaseOwner !== null && q.leaseOwner !== who && (q.leaseExpires ?? 0) > now) throw new LabelStoreError('conflict', `query ${queryId} is leased by ${q.leaseOwner} until ${iso(q.leaseExpires!)}`);
      const classes = this.run(q.run).classNames.length;
      const valid = (v: number) => Number.isInteger(v) && ((v >= 0 && v < classes) || v === IGNORE);
      const units: UnitLabels[] = [];
      if (answer.classes !== undefined) {
        if (q.kind !== 'region-class') throw new LabelStoreError('invalid', `query ${queryId} is a ${q.kind} query: answer with a mask`);
        if (!Array.isArray(answer.classes) || answer.classes.length !== q.units.length) throw new LabelStoreError('invalid', `query ${queryId} has ${q.units.length} units: expected ${q.units.length} classes, got ${Array.isArray(answer.classes) ? answer.classes.length : typeof answer.classes}`);
        answer.classes.forEach((c, i) => {
          if (!valid(c)) throw new LabelStoreError('invalid', `class ${JSON.stringify(c)} for unit ${q.units[i].unit} is neither a class id 0..${classes - 1} nor 255`);
          units.push({ imageId: q.imageId, unit: q.units[i].unit, pixelIndices: q.units[i].pixelIndices, values: new Uint8Array(q.units[i].pixelIndices.length).fill(c) });
        });
      } else if (answer.mask !== undefined) {
        const mask = answer.mask;
        if (q.kind !== 'pixel-paint') throw new LabelStoreError('invalid', `query ${queryId} is a ${q.kind} query: answer with one class per unit`);
        if (!(mask instanceof Uint8Array)) throw new LabelStoreError('invalid', 'the mask must be bytes (train ids, 255 = unknown)');
        if (mask.length !== q.width * q.height) throw new LabelStoreError('invalid', `the mask has ${mask.length} values, the image is ${q.width}x${q.height} (${q.width * q.height})`);
        for (const u of q.units) {
          const values = new Uint8Array(u.pixelIndices.length);
          for (let i = 0; i < values.length; i++) {
            const v = mask[u.pixelIndices[i]];
            if (!valid(v)) throw new LabelStoreError('invalid', `mask value ${v} at pixel ${u.pixelIndices[i]} is neither a class id 0..${classes - 1} nor 255`);
            values[i] = v;
          }
          units.push({ imageId: q.imageId, unit: u.unit, pixelIndices: u.pixelIndices, values });
        }
      } else {
        throw new LabelStoreError('invalid', 'an answer needs `classes` (region-class) or `mask` (pixel-paint)');
      }
      const time = iso(now);
      this.applyUnitLabels(q.run, units, { round: q.round, strategy: q.strategy, checkpoint: q.checkpoint, annotator: who, seconds }, q.id, time);
      this.db.prepare("UPDATE queries SET status = 'answered', answered_by = ?, answered_at = ?, seconds = ?, lease_owner = NULL, lease_expires = NULL WHERE id = ?").run(who, time, seconds, queryId);
      return this.query(queryId);
    })();
  }

  /**
   * Ends a round's annotation: open queries are cancelled (answers to them are then refused) and
   * the round is marked annotated, in one transaction.
   */
  closeRound(run: string, round: number, info: Record<string, unknown> = {}): QueryProgress {
    this.check();
    return this.writeTransaction(() => {
      this.db.prepare("UPDATE queries SET status = 'cancelled', lease_owner = NULL, lease_expires = NULL WHERE run = ? AND round = ? AND status = 'open'").run(run, round);
      const progress = this.queryProgress(run, round);
      this.setPhase(run, round, 'annotated', { info: { ...info, queries: progress } });
      return progress;
    })();
  }

  // ---- imported masks ----

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
    this.check();
    if (typeof options.annotator !== 'string' || options.annotator.length === 0) throw new LabelStoreError('invalid', "an import needs the annotator's name");
    return this.writeTransaction(() => {
      const classes = this.run(run).classNames.length;
      const getImage = this.db.prepare('SELECT width, height, mask, covered FROM images WHERE run = ? AND image_id = ?');
      const seen = new Set<string>();
      const plans: { imageId: string; mask: Uint8Array; covered: Uint8Array; m: ImportedMask; labelled: number; changed: number; overwritten: number }[] = [];
      const conflicts: string[] = [];
      let conflicting = 0;
      for (const m of masks) {
        if (seen.has(m.imageId)) throw new LabelStoreError('invalid', `image '${m.imageId}' is imported twice (${m.source})`);
        seen.add(m.imageId);
        const row = getImage.get(run, m.imageId) as { width: number; height: number; mask: Buffer; covered: Buffer } | undefined;
        if (row === undefined) throw new LabelStoreError('not-found', `run '${run}' has no image '${m.imageId}' (${m.source})`);
        if (!(m.data instanceof Uint8Array) || m.data.length !== row.width * row.height) throw new LabelStoreError('invalid', `${m.source}: ${m.data?.length} values, image '${m.imageId}' is ${row.width}x${row.height} (${row.width * row.height})`);
        const mask = new Uint8Array(row.mask);
        const covered = new Uint8Array(row.covered);
        let labelled = 0, changed = 0, overwritten = 0, clash = 0, first = -1;
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
          const x = first % row.width, y = (first - x) / row.width;
          conflicts.push(`'${m.imageId}' ${clash} px (first at x=${x}, y=${y}: stored ${mask[first]}, imported ${m.data[first]})`);
        }
        overwritten = clash;
        if (labelled > 0) plans.push({ imageId: m.imageId, mask, covered, m, labelled, changed, overwritten });
      }
      if (conflicts.length > 0 && !options.overwrite) {
        const shown = conflicts.slice(0, 10).join('; ') + (conflicts.length > 10 ? `; and ${conflicts.length - 10} more image(s)` : '');
        throw new LabelStoreError('conflict', `${conflicting} pixel(s) in ${conflicts.length} image(s) already hold other labels: ${shown}. Nothing was imported (import with overwrite to replace them)`);
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
      const time = iso(this.now());
      const setMask = this.db.prepare('UPDATE images SET mask = ?, covered = ?, labelled_pixels = ?, covered_pixels = ?, updated_at = ? WHERE run = ? AND image_id = ?');
      const record = this.db.prepare(
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
        let labelled = 0, coveredCount = 0;
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
    this.check();
    const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mask_imports'").get();
    if (exists === undefined) return [];
    const rows = this.db.prepare('SELECT * FROM mask_imports WHERE run = ? ORDER BY id').all(run) as Record<string, any>[];
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

  // ---- export ----

  /**
   * Writes every image's partial mask of a run as an 8-bit palette PNG (index = train id, 255 =
   * unknown, drawn black) into `dir`, plus `labels.json` with the provenance of every labelled unit.
   */
  exportMasks(run: string, dir: string): { files: string[] } {
    this.check();
    const info = this.run(run);
    mkdirSync(dir, { recursive: true });
    const palette: [number, number, number][] = Array.from({ length: 256 }, (_, i) => info.palette[i] ?? [0, 0, 0]);
    const files: string[] = [];
    const rows = this.db.prepare('SELECT image_id, width, height, mask FROM images WHERE run = ? ORDER BY image_index').all(run) as { image_id: string; width: number; height: number; mask: Buffer }[];
    const write = (file: string, data: Uint8Array | string) => {
      const tmp = `${file}.tmp-${process.pid}`;
      writeFileSync(tmp, data);
      renameSync(tmp, file);
    };
    for (const r of rows) {
      const file = join(dir, `${r.image_id.replace(/[\\/]/g, '_')}.png`);
      write(file, encodeIndexedPng(r.width, r.height, new Uint8Array(r.mask), palette));
      files.push(file);
    }
    write(join(dir, 'labels.json'), `${JSON.stringify({ run: info.name, strategy: info.strategy, seed: info.seed, units: info.units, classNames: info.classNames, ignore: IGNORE, labelled: this.labelledUnits(run) }, null, 2)}\n`);
    return { files };
  }
}
