// npm run bench:select — scoring throughput of the active-learning scorer: one full pass over
// camvid-day2dusk's target_pool (46 images, 240x180, unlabelled) with the default U-Net (base 16,
// depth 4, 11 classes), for entropy and RIPU (region variant, k = 1), both on 3x3 region units:
// load and normalise the images, forward in eval and inference mode, the per-pixel score, the
// per-region reduction and the per-unit records (scorePool + the strategy). Ours against the same
// scoring in PyTorch (bench/select_peer.py, the U-Net of scripts/model_peer.py with the same
// weights, written here as safetensors); both engines run as child processes speaking one
// JSON-lines protocol, interleaved pass by pass in one run, with the same threads. The scores of
// both are compared unit by unit. Besides the wall time of each pass, each side reports the CPU
// time of its process over the pass (all threads), which other load on the machine disturbs less.
//
//   npm run bench:select [-- --rounds 3 --threads 2 --batch 4 --root DIR --json]
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '@adaseg/torch';
import { hasFlag, isWorker, median, numberArg, PeerPair, serveCommands, stringArg } from '../../torch/bench/harness.js';
import { createStrategy, scorePool, type StrategyConfig, type UnitRecord } from '../src/active/index.js';
import { DataLoader, loadDataset } from '../src/data/index.js';
import { buildModel } from '../src/models/config.js';
import type { SegmentationModel } from '../src/models/base.js';

const STRATEGIES: Record<string, StrategyConfig> = {
  entropy: { strategy: 'entropy' },
  'ripu-region': { strategy: 'ripu', variant: 'region', k: 1 },
};

interface SetupCmd {
  cmd: 'setup';
  threads: number;
  root: string;
  batch: number;
  /** Ours writes the weights here; the peer reads them. */
  file: string;
}
interface ScoreCmd {
  cmd: 'score';
  strategy: keyof typeof STRATEGIES;
  /** Write the per-unit scores [images, units] here (first pass only). */
  out?: string;
}
type Cmd = SetupCmd | ScoreCmd;

interface SetupResult {
  threads: number;
  params: number;
  images: number;
  width: number;
  height: number;
}
interface ScoreResult {
  seconds: number;
  /** CPU time of the whole process (all threads) during the pass: less sensitive to other load than `seconds`. */
  cpuSeconds: number;
  images: number;
  units: number;
}

// ---------------------------------------------------------------- worker side (ours)
async function worker(): Promise<void> {
  let model: SegmentationModel | undefined;
  let pool: Awaited<ReturnType<typeof loadDataset>> | undefined;
  let batch = 4;
  await serveCommands<Cmd>({
    setup: async (cmd) => {
      torch.setNumThreads(cmd.threads);
      torch.manualSeed(0);
      batch = cmd.batch;
      pool = await loadDataset({ format: 'folder', root: cmd.root, split: 'target_pool', labels: 'none' });
      model = buildModel({ kind: 'unet' }, pool.classes.names.length);
      // Calibrate the BatchNorm statistics on two pool images (10 train-mode passes, momentum
      // 0.1): with a fresh network's identity statistics it predicts one class everywhere, which
      // would leave RIPU's impurity at 0 for every unit and the score comparison empty.
      const calibration = new DataLoader(pool, { batchSize: 2, workers: 0 });
      for await (const b of calibration.epoch(0)) {
        model.train();
        torch.noGrad(() => {
          for (let i = 0; i < 10; i++) torch.tidy(() => model!.forward(b.images).logits);
        });
        model.eval();
        b.dispose();
        break;
      }
      await calibration.close();
      torch.tidy(() => torch.saveSafetensorsSync(cmd.file, model!.stateDict()));
      return { threads: torch.getNumThreads(), params: model.numParameters(), images: pool.samples.length, width: 240, height: 180 } satisfies SetupResult;
    },
    score: async (cmd) => {
      const t = performance.now();
      const cpu = process.cpuUsage();
      const records: UnitRecord[] = await scorePool(model!, pool!, createStrategy(STRATEGIES[cmd.strategy]), {
        units: { kind: 'region', k: 1 },
        batchSize: batch,
      });
      const seconds = (performance.now() - t) / 1000;
      const used = process.cpuUsage(cpu);
      const cpuSeconds = (used.user + used.system) / 1e6;
      const images = new Set(records.map((r) => r.image)).size;
      const units = records.length / images;
      if (cmd.out) {
        const scores = new Float32Array(records.length);
        for (const r of records) scores[r.image * units + r.unit] = r.score!;
        torch.tidy(() => torch.saveSafetensorsSync(cmd.out!, { scores: torch.tensor(scores, { shape: [images, units] }) }));
      }
      return { seconds, cpuSeconds, images, units, liveTensors: torch.memory().tensors };
    },
  });
}

// ---------------------------------------------------------------- orchestrator
/** Largest |ours - theirs|, and how many of the top 1% units by our scores are also in theirs. */
function compareScores(oursFile: string, theirsFile: string): { maxAbsDiff: number; maxScore: number; differing: number; top1pctOverlap: number } {
  return torch.tidy(() => {
    const a = torch.loadSafetensorsSync(oursFile).scores;
    const b = torch.loadSafetensorsSync(theirsFile).scores;
    if (a.shape.join() !== b.shape.join()) throw new Error(`score shapes differ: [${a.shape}] vs [${b.shape}]`);
    const k = Math.max(1, Math.floor(a.numel() / 100));
    const top = (t: torch.Tensor) => new Set(Array.from(t.reshape([-1]).topk(k)[1].toTypedArray() as BigInt64Array, Number));
    const ta = top(a),
      tb = top(b);
    let shared = 0;
    for (const i of ta) if (tb.has(i)) shared++;
    const diff = a.sub(b).abs();
    return {
      maxAbsDiff: diff.max().item() as number,
      maxScore: a.abs().max().item() as number,
      differing: diff.gt(1e-4).sum().item() as number,
      top1pctOverlap: shared / k,
    };
  });
}

async function orchestrate(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = stringArg('root', join(here, '..', '..', '..', '..', 'shared', 'datasets', 'camvid-day2dusk'));
  if (!existsSync(join(root, 'target_pool.txt'))) {
    console.log(`bench:select: skipped — camvid-day2dusk not found at ${root} (pass --root DIR)`);
    return;
  }
  const rounds = numberArg('rounds', 3);
  const threads = numberArg('threads', torch.getNumThreads());
  const batch = numberArg('batch', 4);
  const json = hasFlag('json');
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-bench-select-'));
  // Same BLAS kernels for the peer as our engine chose (set in process.env by loading it above).
  const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  const peers = new PeerPair<Cmd>(join(here, 'select.ts'), join(here, 'select_peer.py'), env);
  try {
    const setup: SetupCmd = { cmd: 'setup', threads, root, batch, file: join(dir, 'unet.safetensors') };
    const a = await peers.ours.send<SetupResult>(setup);
    const b = await peers.pytorch.send<SetupResult>(setup);
    if (a.params !== b.params || a.images !== b.images) throw new Error(`setups differ: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    const names = Object.keys(STRATEGIES) as (keyof typeof STRATEGIES)[];
    const times: Record<string, { ours: number[]; pytorch: number[] }> = {};
    const cpuTimes: Record<string, { ours: number[]; pytorch: number[] }> = {};
    const comparison: Record<string, ReturnType<typeof compareScores>> = {};
    let units = 0;
    // Warm-up pass of each (its scores are the ones compared), then interleaved timed passes.
    for (const s of names) {
      const files = { ours: join(dir, `${s}.ours.safetensors`), pytorch: join(dir, `${s}.pytorch.safetensors`) };
      const r = await peers.ours.send<ScoreResult>({ cmd: 'score', strategy: s, out: files.ours });
      await peers.pytorch.send<ScoreResult>({ cmd: 'score', strategy: s, out: files.pytorch });
      units = r.units;
      comparison[s] = compareScores(files.ours, files.pytorch);
      times[s] = { ours: [], pytorch: [] };
      cpuTimes[s] = { ours: [], pytorch: [] };
    }
    for (let round = 0; round < rounds; round++) {
      for (const s of names) {
        await peers.inTurn(async (name, p) => {
          const r = await p.send<ScoreResult>({ cmd: 'score', strategy: s });
          times[s][name].push(r.seconds);
          cpuTimes[s][name].push(r.cpuSeconds);
        });
      }
    }
    const peakRssMb = await peers.peakRssMb();
    const rows = names.map((s) => {
      const o = median(times[s].ours),
        t = median(times[s].pytorch);
      const co = median(cpuTimes[s].ours),
        ct = median(cpuTimes[s].pytorch);
      return {
        strategy: s,
        seconds: { ours: o, pytorch: t },
        imagesPerSec: { ours: a.images / o, pytorch: a.images / t },
        ratio: o / t,
        cpuSeconds: { ours: co, pytorch: ct, ratio: co / ct },
        all: { ours: times[s].ours.map((x) => +x.toFixed(3)), pytorch: times[s].pytorch.map((x) => +x.toFixed(3)) },
        scores: comparison[s],
      };
    });
    const result = {
      cpu: cpus()[0]?.model,
      libtorch: torch.buildInfo().torchVersion,
      threads: a.threads,
      images: a.images,
      size: `${a.width}x${a.height}`,
      unitsPerImage: units,
      batch,
      params: a.params,
      rounds,
      rows,
      peakRssMb,
    };
    if (json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    console.log(
      `bench:select — one scoring pass over camvid-day2dusk target_pool (${a.images} images, ${result.size}, ${units} 3x3 regions each), default U-Net (${(a.params / 1e6).toFixed(1)}M), batch ${batch}`,
    );
    console.log(
      `${result.cpu}; libtorch ${result.libtorch}; ${result.threads} threads; ${rounds} timed passes each after one warm-up, interleaved; OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}`,
    );
    console.log('| strategy | ours | PyTorch | ratio of times | target | scores: max abs diff (max score) | units differing > 1e-4 | top-1% units shared |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of rows) {
      console.log(
        `| ${r.strategy} | ${r.imagesPerSec.ours.toFixed(2)} img/s (${r.seconds.ours.toFixed(2)} s) | ${r.imagesPerSec.pytorch.toFixed(2)} img/s (${r.seconds.pytorch.toFixed(2)} s) | ${r.ratio.toFixed(3)} | ≤ 1.10 ${r.ratio <= 1.1 ? 'ok' : 'MISSED'} | ${r.scores.maxAbsDiff.toExponential(2)} (${r.scores.maxScore.toFixed(3)}) | ${r.scores.differing} of ${a.images * units} | ${(r.scores.top1pctOverlap * 100).toFixed(1)}% |`,
      );
    }
    console.log(`peak RSS: ours ${result.peakRssMb.ours.toFixed(0)} MB, PyTorch ${result.peakRssMb.pytorch.toFixed(0)} MB`);
    for (const r of rows)
      console.log(
        `${r.strategy} CPU seconds per pass (all threads; median): ours ${r.cpuSeconds.ours.toFixed(2)}, PyTorch ${r.cpuSeconds.pytorch.toFixed(2)}, ratio ${r.cpuSeconds.ratio.toFixed(3)}`,
      );
    for (const r of rows) console.log(`${r.strategy} pass seconds, ours: ${r.all.ours.join(' ')}; PyTorch: ${r.all.pytorch.join(' ')}`);
  } finally {
    peers.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isWorker()) await worker();
else await orchestrate();
