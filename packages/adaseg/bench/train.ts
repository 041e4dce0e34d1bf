// npm run bench:train — a train step (zero grad, forward, cross-entropy with ignore index 255,
// backward, SGD with momentum 0.9) and an eval forward (model.eval() in inference mode) of adaseg's
// default U-Net (buildModel(DEFAULT_MODEL_CONFIG, 11): base 16, depth 4) at batch 2 and 8, and of
// DeepLabV3-ResNet50 ({kind: 'deeplabv3', backbone: 'resnet50'}) at batch 2, all at 3x180x240
// (camvid-day2dusk's size) with 11 classes; ours against the same networks in PyTorch
// (bench/train_peer.py: the U-Net of scripts/model_peer.py, torchvision's deeplabv3_resnet50).
// Both engines run as child processes speaking one JSON-lines protocol, interleaved round by round
// in one run, with the same threads and the same initial weights and inputs (written by ours, read
// by the peer), so the losses can be compared. Peak RSS is each process's own (a fresh pair of
// processes per case).
//
//   npm run bench:train [-- --rounds 8 --iters 3 --threads 2 --cases unet-2,unet-8,deeplabv3_resnet50-2 --json]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '@adaseg/torch';
import { isWorker, median, PeerPair, readRoundOptions, serveCommands, stringArg } from '../../torch/bench/harness.js';
import { buildModel, DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/models/config.js';

const { functional: F } = torch;

type ModelName = 'unet' | 'deeplabv3_resnet50';
const CONFIGS: Record<ModelName, ModelConfig> = {
  unet: DEFAULT_MODEL_CONFIG,
  deeplabv3_resnet50: { kind: 'deeplabv3', backbone: 'resnet50' },
};
const CASES: { model: ModelName; batch: number }[] = [
  { model: 'unet', batch: 2 },
  { model: 'unet', batch: 8 },
  { model: 'deeplabv3_resnet50', batch: 2 },
];
const caseName = (c: (typeof CASES)[number]) => `${c.model}-${c.batch}`;
const CLASSES = 11;
const HEIGHT = 180;
const WIDTH = 240;
const IGNORE = 255;

interface SetupCmd {
  cmd: 'setup';
  model: ModelName;
  threads: number;
  classes: number;
  batch: number;
  height: number;
  width: number;
  /** Ours writes the weights and inputs here; the peer reads them. */
  file: string;
}
type Cmd = SetupCmd | { cmd: 'train' | 'eval'; iters: number };
interface SetupResult {
  threads: number;
  params: number;
}
interface TrainResult {
  times: number[];
  losses: number[];
}

// ---------------------------------------------------------------- worker side (ours)
async function worker(): Promise<void> {
  let s: { model: ReturnType<typeof buildModel>; opt: torch.optim.SGD; x: torch.Tensor; y: torch.Tensor } | undefined;
  await serveCommands<Cmd>({
    setup: (cmd) => {
      torch.setNumThreads(cmd.threads);
      torch.manualSeed(0);
      const model = buildModel(CONFIGS[cmd.model], cmd.classes);
      const x = torch.keep(torch.randn([cmd.batch, 3, cmd.height, cmd.width]));
      // Labels 0..classes, the value `classes` turned into the ignore index (about 1 pixel in 12).
      const y = torch.keep(
        torch.tidy(() => {
          const r = torch.randint(0, cmd.classes + 1, [cmd.batch, cmd.height, cmd.width]);
          return r.maskedFill(r.eq(cmd.classes), IGNORE);
        }),
      );
      torch.tidy(() => torch.saveSafetensorsSync(cmd.file, { ...model.stateDict(), 'input.x': x, 'input.y': y }));
      const opt = new torch.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
      s = { model, opt, x, y };
      return { threads: torch.getNumThreads(), params: model.numParameters() } satisfies SetupResult;
    },
    train: (cmd) => {
      const { model, opt, x, y } = s!;
      model.train();
      const out: TrainResult = { times: [], losses: [] };
      for (let i = 0; i < cmd.iters; i++) {
        const t = performance.now();
        torch.tidy(() => {
          opt.zeroGrad();
          const loss = F.crossEntropy(model.forward(x).logits, y, { ignoreIndex: IGNORE });
          loss.backward();
          opt.step();
          out.losses.push(loss.item() as number);
        });
        out.times.push((performance.now() - t) / 1000);
      }
      return out;
    },
    eval: (cmd) => {
      const { model, x } = s!;
      model.eval();
      const times: number[] = [];
      for (let i = 0; i < cmd.iters; i++) {
        const t = performance.now();
        torch.inferenceMode(() => torch.tidy(() => model.forward(x).logits.sum().item()));
        times.push((performance.now() - t) / 1000);
      }
      return { times, liveTensors: torch.memory().tensors };
    },
  });
}

// ---------------------------------------------------------------- orchestrator
async function runCase(here: string, env: NodeJS.ProcessEnv, dir: string, c: (typeof CASES)[number], threads: number, rounds: number, iters: number) {
  const setup: SetupCmd = {
    cmd: 'setup',
    model: c.model,
    threads,
    classes: CLASSES,
    batch: c.batch,
    height: HEIGHT,
    width: WIDTH,
    file: join(dir, `${c.model}-${c.batch}.safetensors`),
  };
  const peers = new PeerPair<Cmd>(join(here, 'train.ts'), join(here, 'train_peer.py'), env);
  try {
    // Ours first: it writes the weights and inputs the peer loads.
    const a = await peers.ours.send<SetupResult>(setup);
    const b = await peers.pytorch.send<SetupResult>(setup);
    if (a.params !== b.params) throw new Error(`${c.model}: networks differ: ${a.params} vs ${b.params} parameters`);
    const times = { ours: { train: [] as number[], eval: [] as number[] }, pytorch: { train: [] as number[], eval: [] as number[] } };
    const losses = { ours: [] as number[], pytorch: [] as number[] };
    // Warm-up (one train step, counted in the loss comparison, and one eval each), then interleaved rounds.
    await peers.inTurn(async (name, p) => {
      losses[name].push(...(await p.send<TrainResult>({ cmd: 'train', iters: 1 })).losses);
      await p.send({ cmd: 'eval', iters: 1 });
    });
    await peers.interleave(rounds, async (name, p) => {
      const t = await p.send<TrainResult>({ cmd: 'train', iters });
      times[name].train.push(...t.times);
      losses[name].push(...t.losses);
      const e = await p.send<{ times: number[] }>({ cmd: 'eval', iters });
      times[name].eval.push(...e.times);
    });
    const peakRssMb = await peers.peakRssMb();
    const ms = (xs: number[]) => xs.map((t) => +(t * 1e3).toFixed(1));
    return {
      model: c.model,
      batch: `${c.batch}x3x${HEIGHT}x${WIDTH}`,
      threads: a.threads,
      params: a.params,
      trainMs: { ours: median(times.ours.train) * 1e3, pytorch: median(times.pytorch.train) * 1e3 },
      evalMs: { ours: median(times.ours.eval) * 1e3, pytorch: median(times.pytorch.eval) * 1e3 },
      peakRssMb,
      allTrainMs: { ours: ms(times.ours.train), pytorch: ms(times.pytorch.train) },
      allEvalMs: { ours: ms(times.ours.eval), pytorch: ms(times.pytorch.eval) },
      losses,
      maxLossDifference: Math.max(...losses.ours.map((l, i) => Math.abs(l - losses.pytorch[i]))),
    };
  } finally {
    peers.close();
  }
}

async function orchestrate(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const { rounds, iters, threads, json } = readRoundOptions({ rounds: 8, iters: 3, threads: torch.getNumThreads() });
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-bench-train-'));
  // Same BLAS kernels and OpenMP spinning for the peer as our engine chose (set in process.env by
  // loading '@adaseg/torch' above).
  const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  try {
    const wanted = stringArg('cases', CASES.map(caseName).join(',')).split(',');
    const unknown = wanted.filter((w) => !CASES.some((c) => caseName(c) === w));
    if (unknown.length > 0) throw new Error(`bench:train: unknown --cases ${unknown.join(', ')}; expected some of ${CASES.map(caseName).join(', ')}`);
    const results = [];
    for (const c of CASES.filter((c) => wanted.includes(caseName(c)))) results.push(await runCase(here, env, dir, c, threads, rounds, iters));
    const info = {
      cpu: cpus()[0]?.model,
      libtorch: torch.buildInfo().torchVersion,
      openblasCoretype: process.env.OPENBLAS_CORETYPE,
      gompSpincount: process.env.GOMP_SPINCOUNT,
      rounds,
      iters,
    };
    if (json) {
      console.log(JSON.stringify({ ...info, results }, null, 2));
      return;
    }
    console.log(`bench:train — train step and eval forward, input 3x${HEIGHT}x${WIDTH}, ${CLASSES} classes; ${info.cpu}; libtorch ${info.libtorch}`);
    console.log(
      `${rounds} rounds x ${iters} iterations, interleaved; OPENBLAS_CORETYPE=${info.openblasCoretype ?? '(unset)'} GOMP_SPINCOUNT=${info.gompSpincount ?? '(unset)'}`,
    );
    console.log('| model | batch | threads | measure | ours | PyTorch | ratio | target |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results) {
      const line = (measure: string, o: number, p: number, target: number, unit: string, digits: number) => {
        const ratio = o / p;
        console.log(
          `| ${r.model} (${(r.params / 1e6).toFixed(1)}M) | ${r.batch} | ${r.threads} | ${measure} | ${o.toFixed(digits)} ${unit} | ${p.toFixed(digits)} ${unit} | ${ratio.toFixed(3)} | ≤ ${target} ${ratio <= target ? 'ok' : 'MISSED'} |`,
        );
      };
      line('train step (median)', r.trainMs.ours, r.trainMs.pytorch, 1.1, 'ms', 1);
      line('eval forward (median)', r.evalMs.ours, r.evalMs.pytorch, 1.05, 'ms', 1);
      line('peak RSS', r.peakRssMb.ours, r.peakRssMb.pytorch, 1.3, 'MB', 0);
    }
    for (const r of results) {
      console.log(
        `${r.model} ${r.batch}: train ms ours ${r.allTrainMs.ours.join(' ')} | PyTorch ${r.allTrainMs.pytorch.join(' ')}; eval ms ours ${r.allEvalMs.ours.join(' ')} | PyTorch ${r.allEvalMs.pytorch.join(' ')}`,
      );
      console.log(
        `${r.model} ${r.batch}: largest loss difference ours vs PyTorch over the same ${r.losses.ours.length} steps: ${r.maxLossDifference.toExponential(2)} (first loss ${r.losses.ours[0].toFixed(5)} vs ${r.losses.pytorch[0].toFixed(5)})`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isWorker()) await worker();
else await orchestrate();
