// The annotation studio end to end: the active loop of `adaseg run` (runExperiment, in this
// process) with `annotator: human` on tiny synthetic data, `adaseg serve` on the same output folder (a child process, as a person would
// start it), a token from `adaseg users add`, and a script answering every query over HTTP the
// way the web page does (lease, image, unit mask, answer). The loop waits for the answers, trains
// the round on them, selects the next round, waits again, and finishes; the store then holds
// exactly the answered labels, and each round's training ran on them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as torch from '@adaseg/torch';
import { parseExperimentConfig } from '../src/experiment/config.js';
import { runExperiment } from '../src/experiment/loop.js';
import { LabelStore } from '../src/labels/store.js';
import { decodePng } from '../src/data/png.js';
import { cli } from './helpers/cli.js';

torch.setNumThreads(1);

const RUN = 'entropy/seed-0';
const W = 32;
const H = 24;
const CLASSES = 6;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const synthetic = (style: string, count: number, seed: number) => ({ format: 'synthetic', style, count, width: W, height: H, seed });

/** The round's queries once the loop has written them (the store may not exist yet). */
function queriesOf(file: string, round: number): number {
  if (!existsSync(file)) return 0;
  let store: LabelStore | undefined;
  try {
    store = LabelStore.open(file, { readonly: true });
    return store.runs().some((r) => r.name === RUN) ? store.queries({ run: RUN, round, units: false }).length : 0;
  } catch {
    return 0; // being created by the loop
  } finally {
    store?.close();
  }
}

// About 10-20 s on an idle 2-core machine; the timeout allows for a busy one.
test(
  'adaseg run with a human annotator: queries answered over HTTP through adaseg serve; the loop trains on the answers, continues and finishes',
  { timeout: 600_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adaseg-studio-e2e-'));
    const out = join(dir, 'out');
    const storeFile = join(out, 'labels.sqlite');
    const config = parseExperimentConfig(
      {
        name: 'studio e2e',
        output: out,
        seeds: [0],
        model: { kind: 'unet', baseWidth: 4, depth: 2 },
        data: { source: synthetic('source', 6, 0), pool: synthetic('target', 4, 100), val: synthetic('target', 3, 500), batchSize: 2, workers: 0 },
        source: { train: { iterations: 6, optimizer: { kind: 'adam', lr: 0.01 }, logEvery: 2, checkpointEvery: 3 } },
        active: { units: { kind: 'region', k: 2 }, budget: { kind: 'pixelPercent', total: 10, rounds: 2 }, strategies: ['entropy'] },
        annotator: { kind: 'human', pollSeconds: 0.05, minFraction: 1, unitsPerQuery: 4 },
        // 'labelled': every target batch holds answered pixels, so the round's target loss shows they were used.
        rounds: { train: { iterations: 4, optimizer: { kind: 'adam', lr: 0.002 }, logEvery: 1, checkpointEvery: 2 }, targetData: 'labelled' },
        baselines: [],
        report: { examples: 1 },
      },
      dir,
    );
    let server: ReturnType<typeof spawn> | undefined;
    let settled = false;
    // A failing test stops the loop (it would otherwise wait for answers forever).
    const controller = new AbortController();
    const loopLog: string[] = [];
    const running = runExperiment(config, { signal: controller.signal, log: (line) => loopLog.push(line) }).finally(() => (settled = true));
    const context = () => `\nloop log:\n${loopLog.slice(-15).join('\n')}`;
    try {
      // 1. The loop trains the source model, scores the pool and writes round 1's queries.
      const started = performance.now();
      while (queriesOf(storeFile, 1) === 0) {
        if (settled) assert.fail(`the loop ended before writing queries: ${JSON.stringify(await running)}${context()}`);
        assert.ok(performance.now() - started < 500_000, `round 1 queries within 500 s${context()}`);
        await sleep(50);
      }

      // 2. A person: a token from the users store, and the server on the same output folder.
      const added = await cli(['users', 'add', 'studio', '--role', 'annotator', '--run', out, '--json']);
      assert.equal(added.code, 0, added.err);
      const { token } = JSON.parse(added.out) as { token: string };
      const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
      server = spawn(process.execPath, ['--import', 'tsx', main, 'serve', '--run', out, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const serverLog: string[] = [];
      createInterface({ input: server.stderr! }).on('line', (l) => serverLog.push(l));
      const first = await createInterface({ input: server.stdout! })[Symbol.asyncIterator]().next();
      const { url } = JSON.parse(first.value as string) as { url: string };
      // A request that got no response is sent again: while this process trains, a kept-alive
      // connection can be closed by the server under it (ECONNRESET). An answer applied the first
      // time is then refused as already answered by us, which is the success it was.
      const api = async (method: string, path: string, body?: unknown) => {
        for (let attempt = 1; ; attempt++) {
          try {
            const res = await fetch(`${url}${path}`, {
              method,
              headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
              body: body === undefined ? undefined : JSON.stringify(body),
            });
            const reply = { status: res.status, type: res.headers.get('content-type') ?? '', bytes: Buffer.from(await res.arrayBuffer()) };
            if (attempt > 1 && reply.status === 409 && reply.bytes.toString().includes('already answered by studio ')) return { ...reply, status: 200 };
            return reply;
          } catch (err) {
            if (attempt >= 5) throw err;
            await sleep(100);
          }
        }
      };
      const json = (r: { bytes: Buffer }) => JSON.parse(r.bytes.toString('utf8'));

      // 3. Answer every query the loop asks, round after round, until it finishes.
      const expected = new Map<string, Int16Array>(); // image id -> answered class per pixel (-1: not asked)
      const answeredAt = new Map<number, number>(); // round -> time of its last answer
      const askedRounds = new Set<number>();
      let answers = 0;
      let voidUnits = 0;
      while (!settled) {
        assert.ok(performance.now() - started < 550_000, `the loop finishes within 550 s${context()}`);
        const lease = await api('POST', '/api/lease', {});
        assert.equal(lease.status, 200, lease.bytes.toString() + context());
        const q = json(lease).query;
        if (q === null) {
          await sleep(50);
          continue;
        }
        askedRounds.add(q.round);
        assert.equal(q.kind, 'region-class');
        assert.deepEqual([q.width, q.height], [W, H]);
        // What the page shows: the image, and which pixels belong to which unit.
        const image = await api('GET', `/api/queries/${q.id}/image`);
        assert.equal(image.status, 200);
        assert.equal(image.type, 'image/png');
        assert.deepEqual([decodePng(image.bytes).width, decodePng(image.bytes).height], [W, H]);
        const maskPng = await api('GET', `/api/queries/${q.id}/mask`);
        assert.equal(maskPng.status, 200);
        // Gray values (unit position + 1); read the first channel, whatever the PNG's colour type.
        const unitOf = decodePng(maskPng.bytes);
        // One class per unit (a made-up but deterministic labelling; one unit in the first query is void).
        const classes = q.unitList.map((_: unknown, pos: number) => (answers === 0 && pos === 0 ? 255 : (q.imageIndex + q.id + pos) % CLASSES));
        if (classes.includes(255)) voidUnits++;
        const exp = expected.get(q.imageId) ?? new Int16Array(W * H).fill(-1);
        expected.set(q.imageId, exp);
        const counts = new Array(q.unitList.length).fill(0);
        for (let p = 0; p < W * H; p++) {
          const position = unitOf.data[p * unitOf.channels] - 1;
          if (position < 0) continue;
          exp[p] = classes[position];
          counts[position]++;
        }
        assert.deepEqual(
          counts,
          q.unitList.map((u: { pixels: number }) => u.pixels),
          'the unit mask covers each unit',
        );
        const answer = await api('POST', `/api/queries/${q.id}/answer`, { classes, seconds: 3 });
        assert.equal(answer.status, 200, answer.bytes.toString());
        answers++;
        answeredAt.set(q.round, Date.now());
      }
      const result = await running;
      assert.equal(result.stopped, false);
      assert.ok(result.files !== undefined && existsSync(result.files.results) && existsSync(result.files.report));
      assert.deepEqual([...askedRounds].sort(), [1, 2], 'the loop continued to round 2 after round 1 was answered');
      assert.ok(voidUnits === 1);
      const exitCode = new Promise<number | null>((done) => server!.once('exit', (code) => done(code)));
      server.kill('SIGINT');
      assert.equal(await exitCode, 0);
      server = undefined;
      assert.deepEqual(
        serverLog.filter((l) => l.startsWith('annotate server:')),
        [],
        'no unexpected server errors',
      );

      // 4. The store holds exactly what was answered, with its provenance.
      const store = LabelStore.open(storeFile, { readonly: true });
      try {
        const queries = store.queries({ run: RUN, units: false });
        assert.equal(queries.length, answers);
        assert.ok(queries.every((x) => x.status === 'answered' && x.answeredBy === 'studio' && x.seconds === 3));
        let labelled = 0;
        for (const im of store.images(RUN)) {
          const mask = store.mask(RUN, im.id).data;
          const exp = expected.get(im.id);
          for (let p = 0; p < mask.length; p++) {
            const want = exp === undefined || exp[p] < 0 ? 255 : exp[p];
            assert.equal(mask[p], want, `${im.id} pixel ${p}`);
            if (want !== 255) labelled++;
          }
        }
        const info = store.run(RUN);
        assert.equal(info.labelledPixels, labelled);
        assert.ok(labelled > 0);
        assert.equal(
          info.coveredPixels,
          [...expected.values()].reduce((s, e) => s + e.filter((v) => v >= 0).length, 0),
          'void units count as covered',
        );
        const units = store.labelledUnits(RUN);
        assert.ok(units.length > 0 && units.every((u) => u.annotator === 'studio' && u.queryId !== null && u.seconds > 0));
        const rounds = store.rounds(RUN);
        assert.deepEqual(
          rounds.map((r) => r.phase),
          ['evaluated', 'evaluated'],
        );
        process.stdout.write(
          `# studio e2e: ${answers} queries answered over HTTP (${rounds.map((r) => `round ${r.round}: ${(r.info.queries as { answered: number }).answered}`).join(', ')}), ${labelled} labelled pixels in the store\n`,
        );
        for (const r of rounds) {
          const q = r.info.queries as { total: number; answered: number; cancelled: number };
          assert.equal(q.answered, q.total);
          assert.equal(q.cancelled, 0);
        }
        // Round 2's queries were written after round 1's last answer, by round 1's trained model.
        const round2 = queries.filter((x) => x.round === 2);
        assert.ok(round2.length > 0);
        assert.ok(Date.parse(round2[0].createdAt) >= answeredAt.get(1)! - 1000);
        assert.equal(rounds[1].scoredWith, rounds[0].checkpoint);

        // 5. Each round trained on the answers: its checkpoint, train.jsonl with a target loss on labelled pixels, its evaluation.
        for (const r of rounds) {
          const roundDir = join(out, 'seed-0', 'entropy', `round-${r.round}`);
          assert.ok(r.checkpoint !== null && existsSync(r.checkpoint), `round ${r.round} checkpoint`);
          assert.ok(r.checkpoint!.startsWith(roundDir));
          const log = readFileSync(join(roundDir, 'train.jsonl'), 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as Record<string, number>);
          const steps = log.filter((l) => typeof l.iteration === 'number' && typeof l.segTarget === 'number');
          assert.equal(steps.length, 4, `round ${r.round}: 4 logged iterations`);
          assert.ok(
            steps.every((l) => Number.isFinite(l.segTarget) && l.segTarget > 0),
            `round ${r.round}: a cross-entropy on labelled target pixels every iteration`,
          );
          const evaluation = JSON.parse(readFileSync(join(roundDir, 'evaluation.json'), 'utf8')) as { mIoU: number; checkpoint: string };
          assert.equal(evaluation.checkpoint, r.checkpoint);
          assert.ok(evaluation.mIoU >= 0 && evaluation.mIoU <= 1);
          assert.equal(r.info.mIoU, evaluation.mIoU);
        }
      } finally {
        store.close();
      }
    } finally {
      controller.abort();
      await running.catch(() => {});
      server?.kill('SIGINT');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
