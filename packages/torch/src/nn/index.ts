// torch.nn: modules, layers, initialisers and the functional API.
export { Module, StateDictError, type StateDict, type LoadStateDictResult } from './module.js';
export * from './layers.js';
export * as init from './init.js';
export * as functional from '../functional.js';
