// The loop's journal: each round's phase (selected, querying, annotated, trained, evaluated) with
// its times, its checkpoints and what the loop records, and each round's selection (its units and
// their pixels), so a restarted run reads where it stopped.
import type { UnitRef } from '../active/types.js';
import { blob, checkIndices, iso, LabelStoreError, type StoreDatabase, u32 } from './database.js';
import type { MaskStore } from './masks.js';
import type { EvaluationInfo, RoundInfo } from './round-info.js';

export type RoundPhase = 'selected' | 'querying' | 'annotated' | 'trained' | 'evaluated';
const PHASES: readonly RoundPhase[] = ['selected', 'querying', 'annotated', 'trained', 'evaluated'];

/** A selected unit with the pixels (row-major indices in the image's mask) it covers. */
export interface UnitPixels extends UnitRef {
  pixelIndices: Uint32Array;
  score?: number;
}

/** A round of a run; `info` is what the loop recorded (round-info.ts), with the evaluation figures from phase 'evaluated' on. */
export type RoundState = RoundRecord &
  ({ phase: Exclude<RoundPhase, 'evaluated'>; info: RoundInfo } | { phase: 'evaluated'; info: RoundInfo & EvaluationInfo });

interface RoundRecord {
  run: string;
  round: number;
  selectedAt: string | null;
  annotatedAt: string | null;
  trainedAt: string | null;
  evaluatedAt: string | null;
  /** The checkpoint the round's selection was scored with. */
  scoredWith: string | null;
  /** The round's trained model. */
  checkpoint: string | null;
}

/** Rounds and their selections. */
export class Journal {
  constructor(
    private readonly s: StoreDatabase,
    private readonly masks: MaskStore,
  ) {}

  round(run: string, round: number): RoundState | undefined {
    this.s.check();
    const r = this.s.db.prepare('SELECT * FROM rounds WHERE run = ? AND round = ?').get(run, round) as Record<string, any> | undefined;
    return r === undefined ? undefined : this.roundFrom(r);
  }

  rounds(run: string): RoundState[] {
    this.s.check();
    return (this.s.db.prepare('SELECT * FROM rounds WHERE run = ? ORDER BY round').all(run) as Record<string, any>[]).map((r) => this.roundFrom(r));
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
  setPhase(run: string, round: number, phase: RoundPhase, fields: { checkpoint?: string; info?: RoundInfo } = {}): void {
    this.s.check();
    const apply = () => {
      const existing = this.round(run, round);
      if (existing === undefined) throw new LabelStoreError('not-found', `run '${run}' has no round ${round} (it must be selected first)`);
      const at = iso(this.s.now());
      const phase2 = PHASES.indexOf(phase) > PHASES.indexOf(existing.phase) ? phase : existing.phase;
      const column = { selected: 'selected_at', querying: 'selected_at', annotated: 'annotated_at', trained: 'trained_at', evaluated: 'evaluated_at' }[phase];
      this.s.db
        .prepare(`UPDATE rounds SET phase = ?, ${column} = COALESCE(${column}, ?), checkpoint = COALESCE(?, checkpoint), info = ? WHERE run = ? AND round = ?`)
        .run(phase2, at, fields.checkpoint ?? null, JSON.stringify({ ...existing.info, ...(fields.info ?? {}) }), run, round);
    };
    if (this.s.db.inTransaction) apply();
    else this.s.writeTransaction(apply)();
  }

  /**
   * Records a round's selection (its units and their pixels) and starts the round, in one
   * transaction. A round selected before keeps its selection (the loop resumes with it).
   */
  saveSelection(run: string, round: number, units: UnitPixels[], fields: { scoredWith: string | null; info?: RoundInfo }): void {
    this.s.check();
    this.s.writeTransaction(() => {
      if (this.round(run, round) !== undefined) return;
      const previous = this.s.db.prepare('SELECT MAX(round) AS r FROM rounds WHERE run = ?').get(run) as { r: number | null };
      if (previous.r !== null && previous.r !== round - 1)
        throw new LabelStoreError('conflict', `run '${run}': round ${round} selected after round ${previous.r}`);
      if (previous.r !== null && this.round(run, previous.r)!.phase !== 'evaluated')
        throw new LabelStoreError('conflict', `run '${run}': round ${round} selected before round ${previous.r} was finished`);
      this.s.db
        .prepare("INSERT INTO rounds (run, round, phase, selected_at, scored_with, info) VALUES (?, ?, 'selected', ?, ?, ?)")
        .run(run, round, iso(this.s.now()), fields.scoredWith, JSON.stringify(fields.info ?? {}));
      const insert = this.s.db.prepare(
        'INSERT INTO selections (run, round, position, image_id, image_index, unit, pixels, score, pixel_indices) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      const sizes = new Map(this.masks.images(run).map((im) => [im.id, im.width * im.height]));
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
    this.s.check();
    const rows = this.s.db.prepare('SELECT * FROM selections WHERE run = ? AND round = ? ORDER BY position').all(run, round) as Record<string, any>[];
    return rows.map((r) => ({
      image: r.image_index,
      imageId: r.image_id,
      unit: r.unit,
      pixels: r.pixels,
      pixelIndices: u32(r.pixel_indices),
      ...(r.score !== null ? { score: r.score } : {}),
    }));
  }
}
