// The labels area: the label store (one SQLite file per experiment: the masks and the provenance of
// every label, the loop's journal of rounds and selections, the lease queue of the annotation
// studio's queries, imported masks) and label masks as PNG files in and out of it.
export * from './store.js';
export * from './mask-files.js';
