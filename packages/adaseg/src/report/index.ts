// The report area: the results of an experiment (results.json), report.html, the Markdown summary,
// the annotation studio's overlays and the example images.
export * from './results.js';
export * from './html.js';
export * from './summary.js';
export * from './overlays.js';
export * from './examples.js';
