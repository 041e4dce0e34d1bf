// Rebuilds a trained model from a run directory or a checkpoint file, for evaluation and scoring.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as torch from '@adaseg/torch';
import type { Normalize, Transform } from '../data/transforms.js';
import type { SegmentationModel } from '../models/base.js';
import { buildModel, type ModelConfig, resolveModelConfig } from '../models/config.js';
import { CheckpointManager, loadModelWeights } from './checkpoint.js';
import type { TrainConfig } from './config.js';

export interface RestoredModel {
  model: SegmentationModel;
  checkpoint: string;
  normalize?: Normalize;
  /** How the run evaluated (its working resolution), when its config.json records it. */
  evalTransforms?: Transform[];
}

function runConfigNear(file: string): TrainConfig | undefined {
  for (const dir of [dirname(file), dirname(dirname(file))]) {
    const p = join(dir, 'config.json');
    if (existsSync(p)) return JSON.parse(readFileSync(p, 'utf8')) as TrainConfig;
  }
  return undefined;
}

/**
 * `path` is a run directory (its best checkpoint, else its latest), a checkpoint, or a plain
 * weights file. The model config comes from the run's config.json, or from `modelJson`.
 */
export function restoreModel(path: string, numClasses: number, modelJson?: string): RestoredModel {
  if (!existsSync(path)) throw new Error(`restore: ${path} does not exist`);
  let file = path;
  if (statSync(path).isDirectory()) {
    const manager = new CheckpointManager(join(path, 'checkpoints'));
    const found = manager.best() ?? manager.latest();
    if (found === null) throw new Error(`restore: run directory ${path} has no checkpoint (checkpoints/checkpoints.json)`);
    file = found;
  }
  const runConfig = runConfigNear(file);
  let modelConfig: ModelConfig;
  if (modelJson !== undefined) {
    try {
      modelConfig = resolveModelConfig(JSON.parse(modelJson)) as ModelConfig;
    } catch (e) {
      throw new Error(`restore: --model is not a valid model config: ${(e as Error).message}`);
    }
  } else if (runConfig !== undefined) {
    modelConfig = runConfig.model;
  } else {
    throw new Error(`restore: no config.json next to ${basename(file)}; pass the model config (--model '{"kind":"unet"}')`);
  }
  const model = buildModel(modelConfig, numClasses);
  torch.tidy(() => {
    model.loadStateDict(loadModelWeights(file));
  });
  const evalTransforms = runConfig?.data?.evalTransforms;
  return {
    model,
    checkpoint: file,
    ...(runConfig ? { normalize: runConfig.data.normalize } : {}),
    ...(Array.isArray(evalTransforms) ? { evalTransforms } : {}),
  };
}
