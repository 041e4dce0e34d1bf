// Unsupervised domain adaptation: output-space adversarial alignment (AdaptSegNet, ADVENT's
// AdvEnt), entropy minimisation (ADVENT's MinEnt) and class-balanced self-training, behind one
// AdaptationMethod interface; adaptModel runs them on the shared training loop.
export * from '../train/losses.js';
export * from './discriminator.js';
export * from './pseudo-labels.js';
export * from './methods.js';
export * from './config.js';
export * from './registry.js';
export { SchedulerGroup } from '../train/trainer.js';
export { adaptModel, type AdaptRunOptions, type AdaptRunResult } from './adapt.js';
