// npm run bench:data — loader throughput on camvid-day2dusk: batches of 8 random 240x180 crops with
// horizontal flip and colour jitter, decoded and augmented by 2 worker threads, as the training
// loop would consume them (tensors made and disposed on the main thread).
//
//   npm run bench:data [-- --batches 60 --workers 2 --json --root DIR]
//
// The loader must not be the bottleneck: its batches/s must be >= 3x the training consumption rate,
// i.e. a train step of the default model must take >= 3 / (batches/s) seconds. Compare the figure
// "max train steps/s at 3x headroom" with the train step time of the default model.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import * as torch from '@adaseg/torch';
import { DataLoader, loadDataset, type Transform } from '../src/data/index.js';

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '60' },
    workers: { type: 'string', default: '2' },
    root: { type: 'string', default: new URL('../../../../shared/datasets/camvid-day2dusk', import.meta.url).pathname },
    json: { type: 'boolean', default: false },
  },
});
const root = values.root!;
if (!existsSync(root)) {
  console.error(`bench:data: dataset not found at ${root} (pass --root DIR)`);
  process.exit(1);
}
const batches = Number(values.batches);
const workers = Number(values.workers);
const batchSize = 8;

interface Row {
  name: string;
  imagesPerSec: number;
  batchesPerSec: number;
  msPerBatch: number;
  maxTrainStepsPerSec: number;
  firstBatchMs: number;
  /** CPU time of the whole process (main thread, workers, sharp's threads) per image. */
  cpuMsPerImage: number;
}

async function measure(name: string, transforms: Transform[], cache: boolean): Promise<Row> {
  const ds = await loadDataset({ format: 'folder', root, split: 'source_train' });
  const t0 = performance.now();
  const loader = new DataLoader(ds, { batchSize, shuffle: true, dropLast: true, seed: 1, workers, prefetch: 4, transforms, cache });
  const it = loader.batches();
  let firstBatchMs = 0;
  // Warm-up: worker start, module loading, (cache fill for the cached run: one epoch).
  const warm = cache ? loader.length : 4;
  for (let i = 0; i < warm; i++) {
    const b = (await it.next()).value!;
    if (i === 0) firstBatchMs = performance.now() - t0;
    b.dispose();
  }
  const before = torch.memory().tensors;
  const t1 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < batches; i++) {
    const { value: b } = await it.next();
    b!.dispose();
  }
  const sec = (performance.now() - t1) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await it.return(undefined);
  await loader.close();
  if (torch.memory().tensors !== before) throw new Error(`tensors leaked: ${torch.memory().tensors - before}`);
  const batchesPerSec = batches / sec;
  return {
    name,
    imagesPerSec: (batches * batchSize) / sec,
    batchesPerSec,
    msPerBatch: (1000 * sec) / batches,
    maxTrainStepsPerSec: batchesPerSec / 3,
    firstBatchMs,
    cpuMsPerImage: (cpu.user + cpu.system) / 1000 / (batches * batchSize),
  };
}

const crop: Transform[] = [
  { kind: 'randomCrop', width: 240, height: 180 },
  { kind: 'hflip' },
  { kind: 'colorJitter', brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 },
];
const scaled: Transform[] = [{ kind: 'randomScale', min: 0.5, max: 2 }, ...crop];
const rows = [
  await measure('crop 240x180 + flip + jitter (spec)', crop, false),
  await measure('random scale 0.5-2 + crop + flip + jitter', scaled, false),
  await measure('same, decoded images cached', scaled, true),
];

// The consumer: a train step (forward, loss, backward, SGD) of the default model at this batch size.
const { buildModel, DEFAULT_MODEL_CONFIG } = await import('../src/models/config.js');
const model = buildModel(DEFAULT_MODEL_CONFIG, 11);
const opt = new torch.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
const x = torch.keep(torch.randn([batchSize, 3, 180, 240]));
const y = torch.keep(torch.randint(0, 11, [batchSize, 180, 240]));
const stepMs: number[] = [];
for (let i = 0; i < 4; i++) {
  const t = performance.now();
  torch.tidy(() => {
    opt.zeroGrad();
    torch.functional.crossEntropy(model.forward(x).logits, y).backward();
    opt.step();
  });
  if (i > 0) stepMs.push(performance.now() - t);
}
const trainStepMs = stepMs.sort((a, b) => a - b)[1];
const consumption = batchSize / (trainStepMs / 1000);
opt.dispose();
model.dispose();

if (values.json) {
  console.log(
    JSON.stringify(
      { dataset: root, batchSize, workers, batches, cores: availableParallelism(), rows, trainStepMs, consumptionImagesPerSec: consumption },
      null,
      2,
    ),
  );
} else {
  console.log(
    `bench:data  camvid-day2dusk source_train (406 images, 240x180), batch ${batchSize}, ${workers} worker threads, ${batches} batches timed, ${availableParallelism()} cores`,
  );
  console.log('');
  console.log('| pipeline | images/s | ms/batch | CPU ms/image | max train steps/s (loader >= 3x) | train step of the default model |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.imagesPerSec.toFixed(0)} | ${r.msPerBatch.toFixed(1)} | ${r.cpuMsPerImage.toFixed(1)} | ${r.maxTrainStepsPerSec.toFixed(1)} (step >= ${(1000 / r.maxTrainStepsPerSec).toFixed(0)} ms) | ${trainStepMs.toFixed(0)} ms: loader ${(r.imagesPerSec / consumption).toFixed(0)}x the consumption ${r.imagesPerSec / consumption >= 3 ? '(ok, >= 3x)' : '(BOTTLENECK)'} |`,
    );
  }
  console.log('');
  console.log(`first batch after start: ${rows.map((r) => `${r.firstBatchMs.toFixed(0)} ms`).join(', ')} (worker start-up)`);
}
