// Worker thread entry of the DataLoader: decodes and augments samples, posts raw typed arrays back
// (transferred, not copied). Tensors are made on the main thread only.
import { parentPort, workerData } from 'node:worker_threads';
import { configureSharp } from './decode.js';
import { DataError, type DataErrorInfo } from './errors.js';
import { Pipeline, type PipelineSpec, type SampleTask } from './pipeline.js';

export interface WorkerInit {
  spec: PipelineSpec;
  sharpConcurrency: number;
}

export type ToWorker = { type: 'task'; id: number; task: SampleTask };
export type FromWorker = { type: 'result'; id: number; result: import('./pipeline.js').SampleResult } | { type: 'error'; id: number; error: DataErrorInfo };

export function errorInfo(err: unknown): DataErrorInfo {
  if (err instanceof DataError) return err.toInfo();
  const e = err as Error;
  return { code: 'worker', message: e?.stack ?? e?.message ?? String(err) };
}

if (parentPort !== null && (workerData as { adasegDataWorker?: boolean } | undefined)?.adasegDataWorker) {
  const port = parentPort;
  const init = (workerData as { init: WorkerInit }).init;
  configureSharp({ concurrency: init.sharpConcurrency });
  const pipeline = new Pipeline(init.spec);
  port.on('message', (msg: ToWorker) => {
    if (msg.type !== 'task') return;
    pipeline.run(msg.task).then(
      (result) => {
        const transfer: ArrayBuffer[] = [result.image.buffer as ArrayBuffer];
        if (result.label !== null && result.label.buffer instanceof ArrayBuffer) transfer.push(result.label.buffer);
        port.postMessage({ type: 'result', id: msg.id, result } satisfies FromWorker, transfer);
      },
      (err: unknown) => port.postMessage({ type: 'error', id: msg.id, error: errorInfo(err) } satisfies FromWorker),
    );
  });
}
