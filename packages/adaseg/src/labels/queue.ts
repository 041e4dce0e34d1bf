// The lease queue of the annotation studio: a round's queries (an image and some of its selected
// units, answered with one class per unit or a painted mask), each leased to one annotator at a
// time (a lease past its expiry frees the query), answered once, and cancelled when the round is
// closed. The lease rule lives here: only the annotator who holds a live lease on a query can
// answer it.
import { blob, checkIndices, IGNORE, iso, LabelStoreError, type StoreDatabase, u32 } from './database.js';
import type { Journal } from './journal.js';
import type { MaskStore, UnitLabels } from './masks.js';
import type { RoundInfo } from './round-info.js';

export type QueryKind = 'region-class' | 'pixel-paint';
export type QueryStatus = 'open' | 'answered' | 'cancelled';

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

/** Queries, their leases and their answers. */
export class LeaseQueue {
  constructor(
    private readonly s: StoreDatabase,
    private readonly masks: MaskStore,
    private readonly journal: Journal,
  ) {}

  /**
   * Writes a round's queries in one transaction and marks the round 'querying'. Idempotent: when
   * the round already has queries, nothing is written and the existing ones are returned.
   */
  createQueries(run: string, round: number, queries: NewQuery[], fields: { strategy: string; checkpoint: string | null }): Query[] {
    this.s.check();
    return this.s.writeTransaction(() => {
      const existing = this.queries({ run, round });
      if (existing.length > 0) return existing;
      const state = this.journal.round(run, round);
      if (state === undefined) throw new LabelStoreError('not-found', `run '${run}' has no round ${round}: select before querying`);
      const sizes = new Map(this.masks.images(run).map((im) => [im.id, im.width * im.height]));
      const insert = this.s.db.prepare(
        'INSERT INTO queries (run, round, image_id, kind, pixels, strategy, checkpoint, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      const insertUnit = this.s.db.prepare('INSERT INTO query_units (query_id, position, unit, pixel_indices) VALUES (?, ?, ?, ?)');
      const time = iso(this.s.now());
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
      this.journal.setPhase(run, round, 'querying');
      return this.queries({ run, round });
    })();
  }

  private queryFrom(r: Record<string, any>, withUnits: boolean): Query {
    const units = withUnits
      ? (
          this.s.db.prepare('SELECT unit, pixel_indices FROM query_units WHERE query_id = ? ORDER BY position').all(r.id) as {
            unit: number;
            pixel_indices: Buffer;
          }[]
        ).map((u) => ({
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

  private static readonly QUERY_SELECT =
    'SELECT q.*, i.image_index, i.width, i.height FROM queries q JOIN images i ON i.run = q.run AND i.image_id = q.image_id';

  query(id: number): Query {
    this.s.check();
    const r = this.s.db.prepare(`${LeaseQueue.QUERY_SELECT} WHERE q.id = ?`).get(id) as Record<string, any> | undefined;
    if (r === undefined) throw new LabelStoreError('not-found', `no query ${id}`);
    return this.queryFrom(r, true);
  }

  /** Queries by run, round and status, oldest first (with their units unless `units: false`). */
  queries(filter: { run?: string; round?: number; status?: QueryStatus; units?: boolean } = {}): Query[] {
    this.s.check();
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.run !== undefined) (where.push('q.run = @run'), (params.run = filter.run));
    if (filter.round !== undefined) (where.push('q.round = @round'), (params.round = filter.round));
    if (filter.status !== undefined) (where.push('q.status = @status'), (params.status = filter.status));
    const rows = this.s.db.prepare(`${LeaseQueue.QUERY_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY q.id`).all(params) as Record<
      string,
      any
    >[];
    return rows.map((r) => this.queryFrom(r, filter.units ?? true));
  }

  queryProgress(run: string, round: number): QueryProgress {
    this.s.check();
    const now = this.s.now();
    const rows = this.s.db.prepare('SELECT status, lease_owner, lease_expires FROM queries WHERE run = ? AND round = ?').all(run, round) as {
      status: QueryStatus;
      lease_owner: string | null;
      lease_expires: number | null;
    }[];
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
    this.s.check();
    if (typeof who !== 'string' || who.length === 0) throw new LabelStoreError('invalid', "a lease needs the annotator's name");
    if (!(options.seconds > 0)) throw new LabelStoreError('invalid', `lease seconds must be > 0, got ${options.seconds}`);
    return this.s.writeTransaction(() => {
      const now = this.s.now();
      let id: number | undefined;
      if (options.queryId !== undefined) {
        const q = this.query(options.queryId);
        if (q.status !== 'open') throw new LabelStoreError('conflict', `query ${q.id} is ${q.status}`);
        if (q.leaseOwner !== null && q.leaseOwner !== who && (q.leaseExpires ?? 0) > now)
          throw new LabelStoreError('conflict', `query ${q.id} is leased by ${q.leaseOwner} until ${iso(q.leaseExpires!)}`);
        id = q.id;
      } else {
        const where = ["status = 'open'", '(lease_owner IS NULL OR lease_expires <= @now OR lease_owner = @who)'];
        if (options.run !== undefined) where.push('run = @run');
        if (options.round !== undefined) where.push('round = @round');
        const row = this.s.db
          .prepare(`SELECT id FROM queries WHERE ${where.join(' AND ')} ORDER BY (lease_owner = @who) DESC, id LIMIT 1`)
          .get({ now, who, run: options.run, round: options.round }) as { id: number } | undefined;
        id = row?.id;
      }
      if (id === undefined) return null;
      this.s.db.prepare('UPDATE queries SET lease_owner = ?, lease_expires = ? WHERE id = ?').run(who, now + Math.round(options.seconds * 1000), id);
      return this.query(id);
    })();
  }

  /** Gives a lease back before it expires (the query returns to the queue). */
  release(queryId: number, who: string): void {
    this.s.check();
    this.s.writeTransaction(() => {
      const q = this.query(queryId);
      if (q.leaseOwner !== who) throw new LabelStoreError('conflict', `query ${queryId} is not leased by ${who}`);
      this.s.db.prepare('UPDATE queries SET lease_owner = NULL, lease_expires = NULL WHERE id = ?').run(queryId);
    })();
  }

  /**
   * Answers a query: checks it (open, leased to `who` and the lease not expired, classes and mask
   * valid), writes the labels of its units with their provenance and marks it answered, in one
   * transaction. A second answer, an answer to a cancelled query, an answer without a live lease
   * or bad input changes nothing and throws.
   */
  answer(queryId: number, who: string, answer: QueryAnswer, seconds = 0): Query {
    this.s.check();
    if (typeof who !== 'string' || who.length === 0) throw new LabelStoreError('invalid', "an answer needs the annotator's name");
    if (!(seconds >= 0) || !Number.isFinite(seconds)) throw new LabelStoreError('invalid', `seconds must be a non-negative number, got ${seconds}`);
    return this.s.writeTransaction(() => {
      const now = this.s.now();
      const q = this.query(queryId);
      if (q.status === 'answered') throw new LabelStoreError('conflict', `query ${queryId} was already answered by ${q.answeredBy} at ${q.answeredAt}`);
      if (q.status === 'cancelled') throw new LabelStoreError('conflict', `query ${queryId} was cancelled (its round was closed)`);
      const live = q.leaseOwner !== null && (q.leaseExpires ?? 0) > now;
      if (live && q.leaseOwner !== who) throw new LabelStoreError('conflict', `query ${queryId} is leased by ${q.leaseOwner} until ${iso(q.leaseExpires!)}`);
      if (!live) {
        const why = q.leaseOwner === who ? `${who}'s lease on it expired at ${iso(q.leaseExpires!)}` : `${who} holds no lease on it`;
        throw new LabelStoreError('conflict', `query ${queryId} cannot be answered: ${why} (lease it before answering)`);
      }
      const classes = this.masks.run(q.run).classNames.length;
      const valid = (v: number) => Number.isInteger(v) && ((v >= 0 && v < classes) || v === IGNORE);
      const units: UnitLabels[] = [];
      if (answer.classes !== undefined) {
        if (q.kind !== 'region-class') throw new LabelStoreError('invalid', `query ${queryId} is a ${q.kind} query: answer with a mask`);
        if (!Array.isArray(answer.classes) || answer.classes.length !== q.units.length)
          throw new LabelStoreError(
            'invalid',
            `query ${queryId} has ${q.units.length} units: expected ${q.units.length} classes, got ${Array.isArray(answer.classes) ? answer.classes.length : typeof answer.classes}`,
          );
        answer.classes.forEach((c, i) => {
          if (!valid(c))
            throw new LabelStoreError('invalid', `class ${JSON.stringify(c)} for unit ${q.units[i].unit} is neither a class id 0..${classes - 1} nor 255`);
          units.push({
            imageId: q.imageId,
            unit: q.units[i].unit,
            pixelIndices: q.units[i].pixelIndices,
            values: new Uint8Array(q.units[i].pixelIndices.length).fill(c),
          });
        });
      } else if (answer.mask !== undefined) {
        const mask = answer.mask;
        if (q.kind !== 'pixel-paint') throw new LabelStoreError('invalid', `query ${queryId} is a ${q.kind} query: answer with one class per unit`);
        if (!(mask instanceof Uint8Array)) throw new LabelStoreError('invalid', 'the mask must be bytes (train ids, 255 = unknown)');
        if (mask.length !== q.width * q.height)
          throw new LabelStoreError('invalid', `the mask has ${mask.length} values, the image is ${q.width}x${q.height} (${q.width * q.height})`);
        for (const u of q.units) {
          const values = new Uint8Array(u.pixelIndices.length);
          for (let i = 0; i < values.length; i++) {
            const v = mask[u.pixelIndices[i]];
            if (!valid(v))
              throw new LabelStoreError('invalid', `mask value ${v} at pixel ${u.pixelIndices[i]} is neither a class id 0..${classes - 1} nor 255`);
            values[i] = v;
          }
          units.push({ imageId: q.imageId, unit: u.unit, pixelIndices: u.pixelIndices, values });
        }
      } else {
        throw new LabelStoreError('invalid', 'an answer needs `classes` (region-class) or `mask` (pixel-paint)');
      }
      const time = iso(now);
      this.masks.applyUnitLabels(q.run, units, { round: q.round, strategy: q.strategy, checkpoint: q.checkpoint, annotator: who, seconds }, q.id, time);
      this.s.db
        .prepare("UPDATE queries SET status = 'answered', answered_by = ?, answered_at = ?, seconds = ?, lease_owner = NULL, lease_expires = NULL WHERE id = ?")
        .run(who, time, seconds, queryId);
      return this.query(queryId);
    })();
  }

  /**
   * Ends a round's annotation: open queries are cancelled (answers to them are then refused) and
   * the round is marked annotated, in one transaction.
   */
  closeRound(run: string, round: number, info: RoundInfo = {}): QueryProgress {
    this.s.check();
    return this.s.writeTransaction(() => {
      this.s.db
        .prepare("UPDATE queries SET status = 'cancelled', lease_owner = NULL, lease_expires = NULL WHERE run = ? AND round = ? AND status = 'open'")
        .run(run, round);
      const progress = this.queryProgress(run, round);
      this.journal.setPhase(run, round, 'annotated', { info: { ...info, queries: progress } });
      return progress;
    })();
  }
}
