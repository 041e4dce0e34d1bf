// npm run bench:adapt — one adversarial adaptation iteration (AdaptSegNet, single level): segmenter
// step (source forward, cross-entropy, backward; target forward, adversarial loss through the
// frozen discriminator, backward; SGD with momentum) and discriminator step (source and target
// predictions detached, BCE against 0 and 1, backward, Adam), on the default U-Net (base 16,
// depth 4) with batches of 2 x 3 x 180 x 240 (camvid-day2dusk's size) and 11 classes; ours
// (adaptationStep of src/adapt) against the same in PyTorch (bench/adapt_peer.py, the U-Net of
// scripts/model_peer.py, AdaptSegNet's training-loop order). Both engines run as child processes
// speaking one JSON-lines protocol, interleaved round by round in one run, with the same threads,
// the same initial weights and inputs (written by ours, read by the peer).
//
//   npm run bench:adapt [-- --rounds 5 --iters 3 --threads 2 --batch 2 --height 180 --width 240 --json]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '@adaseg/torch';
import { isWorker, median, numberArg, PeerPair, readRoundOptions, serveCommands } from '../../torch/bench/harness.js';
import { adaptationStep, createAdaptationMethod, parseMethodConfig, type AdversarialMethod } from '../src/adapt/index.js';
import { buildModel } from '../src/models/config.js';
import { ConfigReader } from '../src/util/config-reader.js';

interface SetupCmd {
  cmd: 'setup';
  threads: number;
  classes: number;
  batch: number;
  height: number;
  width: number;
  /** Ours writes the weights and inputs here; the peer reads them. */
  file: string;
}
type Cmd = SetupCmd | { cmd: 'step'; iters: number };

interface StepResult {
  times: number[];
  losses: { seg: number; adv: number; d: number }[];
}

const LAMBDA_ADV = 1e-3;

// ---------------------------------------------------------------- worker side (ours)
async function worker(): Promise<void> {
  let state:
    | {
        model: ReturnType<typeof buildModel>;
        method: AdversarialMethod;
        optimizer: torch.optim.SGD;
        xs: torch.Tensor;
        ys: torch.Tensor;
        xt: torch.Tensor;
      }
    | undefined;
  await serveCommands<Cmd>({
    setup: (cmd) => {
      torch.setNumThreads(cmd.threads);
      torch.manualSeed(0);
      const model = buildModel({ kind: 'unet' }, cmd.classes);
      const method = createAdaptationMethod(parseMethodConfig(ConfigReader.root({ method: 'adaptsegnet', levels: 'single', lambdaAdv: LAMBDA_ADV }, 'adapt')), {
        model,
        iterations: 1000,
        auxWeight: 0,
      }) as AdversarialMethod;
      const xs = torch.keep(torch.randn([cmd.batch, 3, cmd.height, cmd.width]));
      const ys = torch.keep(torch.randint(0, cmd.classes, [cmd.batch, cmd.height, cmd.width]));
      const xt = torch.keep(torch.randn([cmd.batch, 3, cmd.height, cmd.width]).mul(0.7).add(0.2));
      const optimizer = new torch.optim.SGD(model.parameters(), { lr: 2.5e-4, momentum: 0.9, weightDecay: 5e-4 });
      torch.tidy(() => {
        const tensors: Record<string, torch.Tensor> = { xs, ys, xt };
        for (const [k, t] of Object.entries(model.stateDict())) tensors[`model.${k}`] = t;
        for (const [k, t] of Object.entries(method.discriminator().stateDict())) tensors[`d.${k}`] = t;
        torch.saveSafetensorsSync(cmd.file, tensors);
      });
      state = { model, method, optimizer, xs, ys, xt };
      return { threads: torch.getNumThreads(), params: model.numParameters(), dParams: method.discriminator().numParameters() };
    },
    step: (cmd) => {
      const s = state!;
      const out: StepResult = { times: [], losses: [] };
      for (let i = 0; i < cmd.iters; i++) {
        const t = performance.now();
        s.model.train();
        s.optimizer.zeroGrad();
        const scalars = adaptationStep(
          s.model,
          s.method,
          { source: { images: s.xs, labels: s.ys }, target: { images: s.xt } },
          { auxWeight: 0, labelledTargetWeight: 1 },
        );
        s.optimizer.step();
        out.times.push((performance.now() - t) / 1000);
        out.losses.push({ seg: scalars.seg, adv: scalars.adv, d: scalars.d });
      }
      return { ...out, liveTensors: torch.memory().tensors };
    },
  });
}

// ---------------------------------------------------------------- orchestrator
async function orchestrate(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const { rounds, iters, threads, json } = readRoundOptions({ rounds: 5, iters: 3, threads: torch.getNumThreads() });
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-bench-adapt-'));
  // Same BLAS kernels for the peer as our engine chose (set in process.env by loading it above).
  const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  const setup: SetupCmd = {
    cmd: 'setup',
    threads,
    classes: 11,
    batch: numberArg('batch', 2),
    height: numberArg('height', 180),
    width: numberArg('width', 240),
    file: join(dir, 'init.safetensors'),
  };
  const peers = new PeerPair<Cmd>(join(here, 'adapt.ts'), join(here, 'adapt_peer.py'), env);
  try {
    const a = await peers.ours.send<{ threads: number; params: number; dParams: number }>(setup);
    const b = await peers.pytorch.send<{ threads: number; params: number; dParams: number }>(setup);
    if (a.params !== b.params || a.dParams !== b.dParams) throw new Error(`networks differ: ${a.params}/${a.dParams} vs ${b.params}/${b.dParams} parameters`);
    const times = { ours: [] as number[], pytorch: [] as number[] };
    const losses = { ours: [] as StepResult['losses'], pytorch: [] as StepResult['losses'] };
    // Warm-up (one step each, counted in the loss comparison), then interleaved rounds.
    await peers.inTurn(async (name, p) => {
      losses[name].push(...(await p.send<StepResult>({ cmd: 'step', iters: 1 })).losses);
    });
    await peers.interleave(rounds, async (name, p) => {
      const res = await p.send<StepResult>({ cmd: 'step', iters });
      times[name].push(...res.times);
      losses[name].push(...res.losses);
    });
    const peakRssMb = await peers.peakRssMb();
    const maxDiff = (k: 'seg' | 'adv' | 'd') => Math.max(...losses.ours.map((l, i) => Math.abs(l[k] - losses.pytorch[i][k])));
    const result = {
      cpu: cpus()[0]?.model,
      libtorch: torch.buildInfo().torchVersion,
      threads: a.threads,
      batch: `${setup.batch}x3x${setup.height}x${setup.width}`,
      segmenterParams: a.params,
      discriminatorParams: a.dParams,
      rounds,
      iters,
      iterationMs: { ours: median(times.ours) * 1e3, pytorch: median(times.pytorch) * 1e3 },
      ratio: median(times.ours) / median(times.pytorch),
      allMs: { ours: times.ours.map((t) => +(t * 1e3).toFixed(1)), pytorch: times.pytorch.map((t) => +(t * 1e3).toFixed(1)) },
      peakRssMb,
      maxLossDifference: { seg: maxDiff('seg'), adv: maxDiff('adv'), d: maxDiff('d') },
      steps: losses.ours.length,
    };
    if (json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    console.log(
      `bench:adapt — one AdaptSegNet iteration (segmenter + discriminator steps), default U-Net, base 16 depth 4 (${(a.params / 1e6).toFixed(1)}M) + FCDiscriminator (${(a.dParams / 1e6).toFixed(2)}M), batch ${result.batch}, 11 classes`,
    );
    console.log(
      `${result.cpu}; libtorch ${result.libtorch}; ${result.threads} threads; ${rounds} rounds x ${iters} iterations, interleaved; OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}`,
    );
    console.log('| measure | ours | PyTorch | ratio | target |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(
      `| adversarial iteration (median) | ${result.iterationMs.ours.toFixed(1)} ms | ${result.iterationMs.pytorch.toFixed(1)} ms | ${result.ratio.toFixed(3)} | ≤ 1.10 ${result.ratio <= 1.1 ? 'ok' : 'MISSED'} |`,
    );
    console.log(
      `| peak RSS | ${result.peakRssMb.ours.toFixed(0)} MB | ${result.peakRssMb.pytorch.toFixed(0)} MB | ${(result.peakRssMb.ours / result.peakRssMb.pytorch).toFixed(3)} | |`,
    );
    console.log(`per-iteration ms, ours: ${result.allMs.ours.join(' ')}`);
    console.log(`per-iteration ms, PyTorch: ${result.allMs.pytorch.join(' ')}`);
    console.log(
      `largest loss difference ours vs PyTorch over the same ${result.steps} steps: seg ${result.maxLossDifference.seg.toExponential(2)}, adv ${result.maxLossDifference.adv.toExponential(2)}, D ${result.maxLossDifference.d.toExponential(2)}`,
    );
  } finally {
    peers.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isWorker()) await worker();
else await orchestrate();
