// npm run bench:nn — a train step (forward, cross-entropy, backward, SGD with momentum) and an
// eval forward of a small encoder-decoder CNN (convs, BN, ReLU, max-pool, bilinear upsampling, skip
// concatenation; widths 32-64-128-256) at 4x3x128x128, ours against the same network in PyTorch.
// Both engines run as child processes speaking one JSON-lines protocol, interleaved round by round
// in one run, with the same threads, seed, weights and input. Peak RSS is each process's own.
//
//   npm run bench:nn [-- --rounds 5 --iters 4 --threads 2 --json]
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { cpus } from 'node:os';
import * as torch from '../src/index.js';
import { isWorker, median, PeerPair, readRoundOptions, serveCommands } from './harness.js';

const { nn, functional: F } = torch;

// ---------------------------------------------------------------- the network (ours)
function block(cin: number, cout: number): torch.nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d({ inChannels: cin, outChannels: cout, kernelSize: 3, padding: 1, bias: false }),
    new nn.BatchNorm2d({ numFeatures: cout }),
    new nn.ReLU(),
    new nn.Conv2d({ inChannels: cout, outChannels: cout, kernelSize: 3, padding: 1, bias: false }),
    new nn.BatchNorm2d({ numFeatures: cout }),
    new nn.ReLU(),
  );
}

class EncDec extends nn.Module {
  readonly enc1 = this.registerModule('enc1', block(3, 32));
  readonly enc2 = this.registerModule('enc2', block(32, 64));
  readonly enc3 = this.registerModule('enc3', block(64, 128));
  readonly mid = this.registerModule('mid', block(128, 256));
  readonly dec3 = this.registerModule('dec3', block(256 + 128, 128));
  readonly dec2 = this.registerModule('dec2', block(128 + 64, 64));
  readonly dec1 = this.registerModule('dec1', block(64 + 32, 32));
  readonly head: torch.nn.Conv2d;

  constructor(classes: number) {
    super();
    this.head = this.registerModule('head', new nn.Conv2d({ inChannels: 32, outChannels: classes, kernelSize: 1 }));
  }

  forward(x: torch.Tensor): torch.Tensor {
    return torch.tidy(() => {
      const up = (t: torch.Tensor, like: torch.Tensor) => F.interpolate(t, { size: [like.shape[2], like.shape[3]], mode: 'bilinear', alignCorners: false });
      const e1 = this.enc1.forward(x);
      const e2 = this.enc2.forward(F.maxPool2d(e1, 2));
      const e3 = this.enc3.forward(F.maxPool2d(e2, 2));
      const m = this.mid.forward(F.maxPool2d(e3, 2));
      const d3 = this.dec3.forward(torch.cat([up(m, e3), e3], 1));
      const d2 = this.dec2.forward(torch.cat([up(d3, e2), e2], 1));
      const d1 = this.dec1.forward(torch.cat([up(d2, e1), e1], 1));
      return this.head.forward(d1);
    });
  }
}

// ---------------------------------------------------------------- worker side (ours)
interface SetupCmd {
  cmd: 'setup';
  threads: number;
  classes: number;
  batch: number;
  height: number;
  width: number;
  channelsLast: boolean;
}
type Cmd = SetupCmd | { cmd: 'train' | 'eval'; iters: number };

async function worker(): Promise<void> {
  let model: EncDec | undefined;
  let x: torch.Tensor | undefined;
  let y: torch.Tensor | undefined;
  let opt: torch.optim.SGD | undefined;
  await serveCommands<Cmd>({
    setup: (cmd) => {
      torch.setNumThreads(cmd.threads);
      torch.manualSeed(0);
      model = new EncDec(cmd.classes);
      x = torch.keep(torch.randn([cmd.batch, 3, cmd.height, cmd.width]));
      y = torch.keep(torch.randint(0, cmd.classes, [cmd.batch, cmd.height, cmd.width]));
      if (cmd.channelsLast) {
        model.to({ memoryFormat: 'channels_last' });
        const cl = torch.keep(x.contiguous('channels_last'));
        x.dispose();
        x = cl;
      }
      opt = new torch.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
      return { threads: torch.getNumThreads(), params: model.numParameters() };
    },
    train: (cmd) => {
      model!.train();
      const times: number[] = [];
      const losses: number[] = [];
      for (let i = 0; i < cmd.iters; i++) {
        const t = performance.now();
        torch.tidy(() => {
          opt!.zeroGrad();
          const loss = F.crossEntropy(model!.forward(x!), y!);
          loss.backward();
          opt!.step();
          losses.push(loss.item() as number);
        });
        times.push((performance.now() - t) / 1000);
      }
      return { times, losses };
    },
    eval: (cmd) => {
      model!.eval();
      const times: number[] = [];
      for (let i = 0; i < cmd.iters; i++) {
        const t = performance.now();
        torch.inferenceMode(() => torch.tidy(() => model!.forward(x!).sum().item()));
        times.push((performance.now() - t) / 1000);
      }
      return { times, liveTensors: torch.memory().tensors };
    },
  });
}

// ---------------------------------------------------------------- orchestrator
async function orchestrate(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const { rounds, iters, threads, json } = readRoundOptions({ rounds: 5, iters: 4, threads: torch.getNumThreads() });
  // Same BLAS kernels for the peer as our engine chose (set by loading it above).
  const env = { ...process.env };
  const results: Record<string, unknown>[] = [];
  for (const channelsLast of [false, true]) {
    const peers = new PeerPair<Cmd>(join(here, 'nn.ts'), join(here, 'nn_peer.py'), env);
    const setup: SetupCmd = { cmd: 'setup', threads, classes: 11, batch: 4, height: 128, width: 128, channelsLast };
    const [a, b] = await Promise.all([
      peers.ours.send<{ threads: number; params: number }>(setup),
      peers.pytorch.send<{ threads: number; params: number }>(setup),
    ]);
    if (a.params !== b.params) throw new Error(`networks differ: ${a.params} vs ${b.params} parameters`);
    const times = { ours: { train: [] as number[], eval: [] as number[] }, pytorch: { train: [] as number[], eval: [] as number[] } };
    const losses = { ours: [] as number[], pytorch: [] as number[] };
    // Warm-up, then interleaved rounds: each engine in turn, never both at once.
    await peers.inTurn(async (_, p) => {
      await p.send({ cmd: 'train', iters: 2 });
      await p.send({ cmd: 'eval', iters: 2 });
    });
    await peers.interleave(rounds, async (name, p) => {
      const t = await p.send<{ times: number[]; losses: number[] }>({ cmd: 'train', iters });
      times[name].train.push(...t.times);
      losses[name].push(...t.losses);
      const e = await p.send<{ times: number[] }>({ cmd: 'eval', iters });
      times[name].eval.push(...e.times);
    });
    const peakRssMb = await peers.peakRssMb();
    peers.close();
    const row = {
      memoryFormat: channelsLast ? 'channels_last' : 'contiguous',
      threads: a.threads,
      params: a.params,
      trainMs: { ours: median(times.ours.train) * 1e3, pytorch: median(times.pytorch.train) * 1e3 },
      evalMs: { ours: median(times.ours.eval) * 1e3, pytorch: median(times.pytorch.eval) * 1e3 },
      peakRssMb,
      maxLossDifference: Math.max(...losses.ours.map((l, i) => Math.abs(l - losses.pytorch[i]))),
    };
    results.push(row);
  }
  if (json) {
    console.log(JSON.stringify({ cpu: cpus()[0]?.model, results }, null, 2));
    return;
  }
  console.log(`bench:nn — encoder-decoder CNN 32-64-128-256, batch 4x3x128x128, 11 classes; ${cpus()[0]?.model}; libtorch ${torch.buildInfo().torchVersion}`);
  console.log(`rounds ${rounds} x ${iters} iterations, interleaved; OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}`);
  console.log('| memory format | threads | measure | ours | PyTorch | ratio | target |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results as any[]) {
    const line = (measure: string, o: number, p: number, target: number, unit: string) => {
      const ratio = o / p;
      console.log(
        `| ${r.memoryFormat} | ${r.threads} | ${measure} | ${o.toFixed(1)} ${unit} | ${p.toFixed(1)} ${unit} | ${ratio.toFixed(3)} | ≤ ${target} ${ratio <= target ? 'ok' : 'MISSED'} |`,
      );
    };
    line('train step (median)', r.trainMs.ours, r.trainMs.pytorch, 1.1, 'ms');
    line('eval forward (median)', r.evalMs.ours, r.evalMs.pytorch, 1.05, 'ms');
    line('peak RSS', r.peakRssMb.ours, r.peakRssMb.pytorch, 1.3, 'MB');
  }
  for (const r of results as any[])
    console.log(`${r.memoryFormat}: largest loss difference ours vs PyTorch over the same steps: ${r.maxLossDifference.toExponential(2)}`);
}

if (isWorker()) await worker();
else await orchestrate();
