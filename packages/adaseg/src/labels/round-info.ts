// What the loop records about a round in the label store (the `info` of a RoundState), by the
// phase that records it. A round's info is the merge of what its phases so far recorded; from
// phase 'evaluated' on it holds the evaluation figures (the results read them from there).
import type { RoundBudget } from '../active/budget.js';
import type { SelectionErrors } from '../active/selection-errors.js';
import type { QueryProgress } from './queue.js';

/** Recorded with the round's selection. */
export interface SelectionInfo {
  /** The round's budget (what is left of the cumulative budget). */
  budget: RoundBudget;
  selectedUnits: number;
  selectedPixels: number;
  /** Units scored. */
  candidates: number;
  scoringSeconds: number;
  /** The folder of the query overlays, relative to the output folder (OVERLAYS_INFO_KEY; human annotators only). */
  overlays?: string;
}

/** Recorded when the annotation of a round by people is closed. */
export interface AnnotationInfo {
  /** The share of answered queries the annotator waited for. */
  minFraction?: number;
  queries: QueryProgress;
}

/** Recorded when the round's model is evaluated. */
export interface EvaluationInfo {
  mIoU: number;
  iou: (number | null)[];
  coveredPixels: number;
  labelledPixels: number;
  labelledUnits: number;
  /** Covered share of the pool's pixels, in percent. */
  percent: number;
  /** How many of the round's labels corrected the model that chose them (SELECTION_ERRORS_INFO_KEY). */
  selectionErrors?: SelectionErrors;
}

/** A round's info in any phase: what its phases so far recorded. */
export type RoundInfo = Partial<SelectionInfo & AnnotationInfo & EvaluationInfo>;
