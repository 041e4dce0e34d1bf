// The label store: one SQLite file (WAL mode) per experiment holding, for every active run
// (a strategy and a seed), each target pool image's partial label mask (train ids, 255 = unknown),
// the provenance of every labelled unit (round, strategy, model checkpoint, annotator, time,
// seconds spent, query), the loop's progress per round (selection, annotation, training,
// evaluation), and the queries of the human annotator interface with their leases.
//
// Every change is one transaction: a round's simulated labels (with the round's 'annotated' mark),
// one answered query, one round's selection or queries. An interrupted process therefore leaves
// either all of a change or none of it, and a restarted run reads where it stopped from here.
//
// The store's parts, one file each: database.ts (the file, its schema and transactions), masks.ts
// (runs, masks and the provenance of labels), journal.ts (the loop's rounds and selections),
// queue.ts (the studio's queries, leases and answers; an answer needs a live lease) and imports.ts
// (masks made elsewhere). LabelStore is their one entry point.
import { iso, type LabelStoreOptions, StoreDatabase } from './database.js';
import { MaskImports, type ImportedMask, type MaskImport, type MaskImportSummary } from './imports.js';
import { Journal, type RoundPhase, type RoundState, type UnitPixels } from './journal.js';
import { type LabelledUnit, MaskStore, type Provenance, type RunInfo, type RunSpec, type StoreImage, type UnitLabels } from './masks.js';
import { LeaseQueue, type NewQuery, type Query, type QueryAnswer, type QueryProgress, type QueryStatus } from './queue.js';
import type { RoundInfo } from './round-info.js';

export { IGNORE, LabelStoreError, type LabelStoreOptions } from './database.js';
export type { ImportedMask, MaskImport, MaskImportSummary } from './imports.js';
export type { RoundPhase, RoundState, UnitPixels } from './journal.js';
export { slug, type LabelledUnit, type Provenance, type RunInfo, type RunSpec, type StoreImage, type UnitLabels } from './masks.js';
export type { NewQuery, Query, QueryAnswer, QueryKind, QueryProgress, QueryStatus, QueryUnit } from './queue.js';

export class LabelStore {
  readonly file: string;
  private readonly s: StoreDatabase;
  private readonly masks: MaskStore;
  private readonly journal: Journal;
  private readonly queue: LeaseQueue;
  private readonly imports: MaskImports;

  private constructor(file: string, options: LabelStoreOptions) {
    this.file = file;
    this.s = new StoreDatabase(file, options);
    this.masks = new MaskStore(this.s);
    this.journal = new Journal(this.s, this.masks);
    this.queue = new LeaseQueue(this.s, this.masks, this.journal);
    this.imports = new MaskImports(this.s, this.masks);
  }

  /** Opens (creating when missing, unless read-only) the store at `file`. */
  static open(file: string, options: LabelStoreOptions = {}): LabelStore {
    return new LabelStore(file, options);
  }

  close(): void {
    this.s.close();
  }

  // ---- runs, masks and the provenance of labels (masks.ts) ----

  ensureRun(name: string, spec: RunSpec): void {
    this.masks.ensureRun(name, spec);
  }

  runs(): RunInfo[] {
    return this.masks.runs();
  }

  run(name: string): RunInfo {
    return this.masks.run(name);
  }

  images(run: string): (StoreImage & { labelledPixels: number })[] {
    return this.masks.images(run);
  }

  mask(run: string, imageId: string): { width: number; height: number; data: Uint8Array } {
    return this.masks.mask(run, imageId);
  }

  labelledMasks(run: string): Map<string, { index: number; width: number; height: number; data: Uint8Array }> {
    return this.masks.labelledMasks(run);
  }

  /** Pixels of the run's pool that are labelled (a class, not 255). */
  labelledPixels(run: string): number {
    return this.masks.run(run).labelledPixels;
  }

  labelledUnits(run: string, filter: { imageId?: string; round?: number } = {}): LabelledUnit[] {
    return this.masks.labelledUnits(run, filter);
  }

  /** Pixels covered by labelled units (whatever their values: void regions count too). */
  coveredPixels(run: string): number {
    return this.masks.run(run).coveredPixels;
  }

  coveredMasks(run: string): Map<string, Uint8Array> {
    return this.masks.coveredMasks(run);
  }

  /**
   * Labels units of a round in one transaction (the simulated annotator's round); with
   * `completeRound` the round is marked annotated in the same transaction, so a crash leaves
   * either the whole round labelled and marked, or nothing.
   */
  labelUnits(run: string, units: UnitLabels[], provenance: Provenance, options: { completeRound?: boolean; info?: RoundInfo } = {}): void {
    this.s.check();
    this.s.writeTransaction(() => {
      const time = iso(this.s.now());
      this.masks.applyUnitLabels(run, units, provenance, null, time);
      if (options.completeRound) this.journal.setPhase(run, provenance.round, 'annotated', { info: options.info });
    })();
  }

  // ---- the loop's journal: rounds and selections (journal.ts) ----

  round(run: string, round: number): RoundState | undefined {
    return this.journal.round(run, round);
  }

  rounds(run: string): RoundState[] {
    return this.journal.rounds(run);
  }

  setPhase(run: string, round: number, phase: RoundPhase, fields: { checkpoint?: string; info?: RoundInfo } = {}): void {
    this.journal.setPhase(run, round, phase, fields);
  }

  saveSelection(run: string, round: number, units: UnitPixels[], fields: { scoredWith: string | null; info?: RoundInfo }): void {
    this.journal.saveSelection(run, round, units, fields);
  }

  selection(run: string, round: number): UnitPixels[] {
    return this.journal.selection(run, round);
  }

  // ---- the studio's queries and their leases (queue.ts) ----

  createQueries(run: string, round: number, queries: NewQuery[], fields: { strategy: string; checkpoint: string | null }): Query[] {
    return this.queue.createQueries(run, round, queries, fields);
  }

  query(id: number): Query {
    return this.queue.query(id);
  }

  queries(filter: { run?: string; round?: number; status?: QueryStatus; units?: boolean } = {}): Query[] {
    return this.queue.queries(filter);
  }

  queryProgress(run: string, round: number): QueryProgress {
    return this.queue.queryProgress(run, round);
  }

  lease(who: string, options: { seconds: number; run?: string; round?: number; queryId?: number }): Query | null {
    return this.queue.lease(who, options);
  }

  release(queryId: number, who: string): void {
    this.queue.release(queryId, who);
  }

  answer(queryId: number, who: string, answer: QueryAnswer, seconds = 0): Query {
    return this.queue.answer(queryId, who, answer, seconds);
  }

  closeRound(run: string, round: number, info: RoundInfo = {}): QueryProgress {
    return this.queue.closeRound(run, round, info);
  }

  // ---- masks made elsewhere (imports.ts) ----

  importMasks(run: string, masks: ImportedMask[], options: { annotator: string; overwrite?: boolean; dryRun?: boolean }): MaskImportSummary {
    return this.imports.importMasks(run, masks, options);
  }

  maskImports(run: string): MaskImport[] {
    return this.imports.maskImports(run);
  }
}
