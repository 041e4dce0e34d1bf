// The label store's database: one SQLite file (WAL mode) per experiment, its schema, and how a
// change is written: one transaction that takes the write lock when it begins, so an interrupted
// process leaves either all of a change or none of it. The store's parts (masks.ts, journal.ts,
// queue.ts, imports.ts) share one StoreDatabase; store.ts's LabelStore puts them together.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AdasegError } from '../errors.js';

export { IGNORE_INDEX as IGNORE } from '../data/classes.js';
const SCHEMA_VERSION = 1;

/** Why a store operation was refused (bad input, a double answer, a lease held by another...). */
export class LabelStoreError extends AdasegError {
  declare readonly code: 'not-found' | 'conflict' | 'invalid' | 'closed' | 'mismatch';
  constructor(code: 'not-found' | 'conflict' | 'invalid' | 'closed' | 'mismatch', message: string) {
    super(code, message);
    this.name = 'LabelStoreError';
  }
}

export interface LabelStoreOptions {
  readonly?: boolean;
  /** How long a write waits for another process's transaction (default 10 s). */
  busyTimeoutMs?: number;
  /** The clock (ms since the epoch) for leases; tests move it. */
  now?: () => number;
}

export const u32 = (b: Buffer | Uint8Array): Uint32Array => {
  // Copy: SQLite's buffer need not be 4-byte aligned.
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Uint32Array(copy.buffer, 0, copy.byteLength / 4);
};
export const blob = (a: Uint32Array | Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
export const iso = (ms: number) => new Date(ms).toISOString();

export function checkIndices(what: string, pixels: Uint32Array, size: number): void {
  for (let i = 0; i < pixels.length; i++) {
    if (pixels[i] >= size) throw new LabelStoreError('invalid', `${what}: pixel index ${pixels[i]} is outside the ${size}-pixel mask`);
  }
}

/** The open database the store's parts share: the connection, the clock and the transactions. */
export class StoreDatabase {
  readonly file: string;
  readonly db: Database.Database;
  readonly now: () => number;
  private closed = false;

  constructor(file: string, options: LabelStoreOptions) {
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
    else if (version !== String(SCHEMA_VERSION))
      throw new LabelStoreError('mismatch', `${this.file} has label store schema ${version}, this adaseg reads ${SCHEMA_VERSION}`);
  }

  /**
   * A write transaction that takes the write lock when it begins (BEGIN IMMEDIATE): several
   * processes share a store (one per seed), and a deferred transaction that read first and then
   * wants to write fails at once with "database is locked" when another process wrote in
   * between; SQLite's busy timeout only covers waiting for the lock at BEGIN. Nested calls run as
   * savepoints of the outer transaction.
   */
  writeTransaction<T>(fn: () => T): () => T {
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

  /** Throws when the store is closed (every operation checks first). */
  check(): void {
    if (this.closed) throw new LabelStoreError('closed', `the label store ${this.file} is closed`);
  }
}
