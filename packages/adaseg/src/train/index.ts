// Training: configs, the shared loop, supervised training, checkpoints.
export * from './config.js';
export * from './trainer.js';
export * from './supervised.js';
export * from './checkpoint.js';
export { restoreModel, type RestoredModel } from './restore.js';
