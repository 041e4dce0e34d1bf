// npm run bench:studio — load on the annotation server: the real `adaseg serve` as a child process
// over a synthetic run with 2,000 open queries, and 20 simulated annotators over HTTP, each
// looping lease -> answer until the queue is empty. Answers are what the studio sends: one class
// per unit (region-class, 20 units) or a whole-image base64 train-id mask (pixel-paint), with the
// seconds spent. Like people, annotators now and then skip a query, send an answer twice (a
// double click: must be refused) and try to answer a query someone else holds (must be refused).
//
//   npm run bench:studio [-- --annotators 20 --queries 2000 --units 20 --size 240x180 --kind mixed --fetch-mask --json --keep]
//
// Afterwards the store is checked: every query answered exactly once, by the annotator whose
// answer got the 200, every unit's label row and pixels equal to what that answer sent. Prints
// total time, answers/s, answer and lease latencies, refusals by kind and unexpected errors; exits
// 1 when an integrity check fails or an unexpected error occurred.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LabelStore, type NewQuery, type QueryKind, type UnitPixels } from '../src/labels/store.js';
import { unitLayout } from '../src/active/units.js';
import { UserStore } from '../src/annotate/users.js';

const { values } = parseArgs({
  options: {
    annotators: { type: 'string', default: '20' },
    queries: { type: 'string', default: '2000' },
    units: { type: 'string', default: '20' },
    size: { type: 'string', default: '240x180' },
    kind: { type: 'string', default: 'mixed' },
    'fetch-mask': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});

function positiveInt(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench:studio: --${name} must be a positive integer, got '${raw}'`);
    process.exit(2);
  }
  return n;
}
const annotators = positiveInt('annotators', values.annotators);
const totalQueries = positiveInt('queries', values.queries);
const unitsPerQuery = positiveInt('units', values.units);
const size = /^(\d+)x(\d+)$/.exec(values.size ?? '');
if (size === null) {
  console.error(`bench:studio: --size must be WIDTHxHEIGHT, got '${values.size}'`);
  process.exit(2);
}
const W = Number(size[1]),
  H = Number(size[2]);
if (!['mixed', 'region-class', 'pixel-paint'].includes(values.kind!)) {
  console.error(`bench:studio: --kind must be mixed, region-class or pixel-paint, got '${values.kind}'`);
  process.exit(2);
}

const RUN = 'entropy/seed-0';
const CLASSES = ['road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'light', 'sign', 'vegetation', 'sky', 'person'];
const C = CLASSES.length;
/** Queries per image (as the human annotator groups a selection: per image, `units` at a time). */
const PER_IMAGE = 10;

// ---------------------------------------------------------------- the synthetic run

function kindOf(i: number): QueryKind {
  if (values.kind === 'mixed') return i % 2 === 0 ? 'region-class' : 'pixel-paint';
  return values.kind as QueryKind;
}

function makeRun(dir: string): { file: string; tokens: string[] } {
  const file = join(dir, 'labels.sqlite');
  const store = LabelStore.open(file);
  const images = Math.ceil(totalQueries / PER_IMAGE);
  const layout = unitLayout({ kind: 'region', k: 1 }, { width: W, height: H });
  if (PER_IMAGE * unitsPerQuery > layout.count)
    throw new Error(
      `--units ${unitsPerQuery}: ${PER_IMAGE} queries per image need ${PER_IMAGE * unitsPerQuery} regions, a ${W}x${H} image has ${layout.count}`,
    );
  store.ensureRun(RUN, {
    strategy: 'entropy',
    seed: 0,
    units: { kind: 'region', k: 1 },
    classNames: CLASSES,
    images: Array.from({ length: images }, (_, i) => ({ id: `image-${String(i).padStart(5, '0')}`, index: i, width: W, height: H })),
  });
  const selection: UnitPixels[] = [];
  const queries: NewQuery[] = [];
  const stride = Math.floor(layout.count / (PER_IMAGE * unitsPerQuery));
  for (let q = 0; q < totalQueries; q++) {
    const image = Math.floor(q / PER_IMAGE);
    const imageId = `image-${String(image).padStart(5, '0')}`;
    const units = [];
    for (let u = 0; u < unitsPerQuery; u++) {
      // Spread over the image, none twice.
      const unit = ((q % PER_IMAGE) * unitsPerQuery + u) * stride;
      const pixelIndices = layout.pixels(unit);
      selection.push({ image, imageId, unit, pixels: pixelIndices.length, pixelIndices, score: 1 });
      units.push({ unit, pixelIndices });
    }
    queries.push({ imageId, kind: kindOf(q), units });
  }
  store.saveSelection(RUN, 1, selection, { scoredWith: null });
  store.createQueries(RUN, 1, queries, { strategy: 'entropy', checkpoint: null });
  store.close();
  const users = UserStore.open(file);
  const tokens = Array.from({ length: annotators }, (_, i) => users.add(`annotator-${i}`, 'annotator'));
  users.close();
  return { file, tokens };
}

// ---------------------------------------------------------------- the server (a child process)

interface Server {
  url: string;
  pid: number;
  stderr: string[];
  stop(): Promise<number | null>;
}

async function startServer(dir: string): Promise<Server> {
  const packageDir = fileURLToPath(new URL('..', import.meta.url));
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', '--run', dir, '--port', '0', '--json'], {
    cwd: packageDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  // Never leave the server behind, whatever happens to this process.
  const killOnExit = () => child.kill();
  process.once('exit', killOnExit);
  const first = await Promise.race([createInterface({ input: child.stdout })[Symbol.asyncIterator]().next(), exited.then(() => null)]);
  if (first === null || first.done) throw new Error(`the server did not start:\n${stderr.join('\n')}`);
  const { url } = JSON.parse(first.value as string) as { url: string };
  return {
    url,
    pid: child.pid!,
    stderr,
    stop: async () => {
      child.kill('SIGINT');
      const code = await exited;
      process.removeListener('exit', killOnExit);
      return code;
    },
  };
}

/** Peak resident memory (MB) and CPU seconds of a process, from /proc (Linux; null elsewhere). */
function processStats(pid: number): { peakRssMb: number; cpuSeconds: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    return { peakRssMb: hwm ? Number(hwm[1]) / 1024 : NaN, cpuSeconds: ticks / 100 };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- the annotators

interface Reply {
  /** 0 when the request failed on the network (no HTTP response); `network` says why. */
  status: number;
  json: any;
  network?: string;
}

/** One API request; never throws (a network failure is status 0). */
async function call(url: string, token: string, method: string, path: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, json: type.includes('json') && text.length > 0 ? JSON.parse(text) : null };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { status: 0, json: null, network: cause?.code ?? cause?.message ?? (err as Error).message };
  }
}

/** How a reply that was not the expected one is counted. */
const describe = (what: string, r: Reply) =>
  r.status === 0 ? `${what}: network error (${r.network})` : `${what}: ${r.status} ${r.json?.error?.code ?? ''}`.trim();

/** The class an answer gives to pixel `p` of query `id` (pixel-paint), or to its unit `pos` (region-class; 1 in 20 is 255, void). */
const paintValue = (id: number, p: number) => (id + Math.floor((p % W) / 8) + Math.floor(p / W / 8)) % C;
const unitClass = (id: number, pos: number) => ((id * 7 + pos) % 20 === 19 ? 255 : (id * 7 + pos) % C);

function answerBody(q: { id: number; kind: QueryKind; units: number }, seconds: number): Record<string, unknown> {
  if (q.kind === 'region-class') return { classes: Array.from({ length: q.units }, (_, pos) => unitClass(q.id, pos)), seconds };
  const mask = new Uint8Array(W * H);
  for (let p = 0; p < mask.length; p++) mask[p] = paintValue(q.id, p);
  return { mask: Buffer.from(mask).toString('base64'), seconds };
}

const percentile = (sorted: number[], p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-bench-studio-'));
  let server: Server | undefined;
  try {
    const setupStarted = performance.now();
    const { file, tokens } = makeRun(dir);
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    server = await startServer(dir);
    const url = server.url;
    const idle = processStats(server.pid); // start-up (module loading) is not the load's
    const answerMs: number[] = [];
    const leaseMs: number[] = [];
    const refusals = new Map<string, number>(); // expected 4xx, by kind
    const errors = new Map<string, number>(); // anything unexpected
    const integrity: string[] = [];
    const answeredBy = new Map<number, { who: string; seconds: number; body: Record<string, unknown>; units: number }>();
    const held = new Map<number, string>(); // query id -> who holds it now
    const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    let bytesSent = 0;
    let skips = 0;
    const started = performance.now();

    const annotator = async (i: number) => {
      const who = `annotator-${i}`;
      const token = tokens[i];
      let step = 0;
      for (;;) {
        // A server that keeps failing would keep this loop going: give up (the errors are reported).
        if ([...errors.values()].reduce((a, b) => a + b, 0) > 200) return;
        step++;
        const t0 = performance.now();
        const lease = await call(url, token, 'POST', '/api/lease', {});
        if (lease.status !== 200) {
          count(errors, describe('lease', lease));
          continue;
        }
        const q = lease.json.query as { id: number; kind: QueryKind; units: number } | null;
        if (q === null) {
          // Nothing free: done when the server says nothing is open or leased any more, else the
          // rest is held by others (or was skipped back just now): look again shortly.
          const queue = await call(url, token, 'GET', '/api/progress');
          const progress = queue.json?.runs?.[0]?.rounds?.[0]?.queries as { open: number; leased: number } | undefined;
          if (queue.status === 200 && progress !== undefined && progress.open === 0 && progress.leased === 0) return;
          if (queue.status !== 200) count(errors, describe('progress', queue));
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        leaseMs.push(performance.now() - t0);
        held.set(q.id, who);
        if (values['fetch-mask']) {
          const m = await call(url, token, 'GET', `/api/queries/${q.id}/mask?outline=1`);
          if (m.status !== 200) count(errors, describe('mask', m));
        }
        if (step % 10 === 5) {
          held.delete(q.id);
          const r = await call(url, token, 'POST', `/api/queries/${q.id}/skip`);
          if (r.status === 200) skips++;
          else count(errors, describe('skip', r));
          continue;
        }
        if (step % 15 === 7) {
          // Someone else's query (held by another annotator right now): must be refused.
          const other = [...held].find(([, holder]) => holder !== who);
          if (other !== undefined) {
            const r = await call(url, token, 'POST', `/api/queries/${other[0]}/answer`, { classes: [0], seconds: 1 });
            if (r.status === 409) count(refusals, '409 conflict: answer to a query someone else holds or answered');
            else if (r.status === 200) integrity.push(`query ${other[0]}: ${who} answered it without holding it`);
            else count(errors, describe('steal', r));
          }
        }
        const seconds = 2 + ((q.id * 13) % 29);
        const body = answerBody(q, seconds);
        bytesSent += JSON.stringify(body).length;
        const t1 = performance.now();
        let r = await call(url, token, 'POST', `/api/queries/${q.id}/answer`, body);
        // No response (e.g. a kept-alive connection closed under us): send it again, as a browser
        // would. If the first one was applied after all, the retry is refused as answered by us.
        for (let retry = 0; r.status === 0 && retry < 3; retry++) {
          count(errors, describe('answer', r));
          r = await call(url, token, 'POST', `/api/queries/${q.id}/answer`, body);
          if (r.status === 409 && String(r.json?.error?.message).includes(`already answered by ${who} `)) r = { status: 200, json: null };
        }
        answerMs.push(performance.now() - t1);
        held.delete(q.id);
        if (r.status !== 200) {
          count(errors, `${describe('answer', r)}: ${r.json?.error?.message ?? ''}`);
          continue;
        }
        if (answeredBy.has(q.id)) integrity.push(`query ${q.id} got a second 200 (by ${who}; first by ${answeredBy.get(q.id)!.who})`);
        answeredBy.set(q.id, { who, seconds, body, units: q.units });
        if (step % 25 === 11) {
          // A double click: the same answer again must be refused and change nothing.
          const again = await call(url, token, 'POST', `/api/queries/${q.id}/answer`, body);
          if (again.status === 409) count(refusals, '409 conflict: the same answer sent twice');
          else if (again.status === 200) integrity.push(`query ${q.id}: a second answer was accepted`);
          else count(errors, describe('double submit', again));
        }
      }
    };
    await Promise.all(Array.from({ length: annotators }, (_, i) => annotator(i)));
    const seconds = (performance.now() - started) / 1000;
    const end = processStats(server.pid);
    const stats =
      end === null ? null : { peakRssMb: end.peakRssMb, cpuSeconds: end.cpuSeconds - (idle?.cpuSeconds ?? 0), startupCpuSeconds: idle?.cpuSeconds ?? NaN };
    const exitCode = await server.stop();
    const pid = server.pid;
    const serverLog = server.stderr;
    server = undefined;
    if (exitCode !== 0) integrity.push(`the server exited with ${exitCode}`);
    // The server logs unexpected errors (500s) with this prefix.
    for (const l of serverLog) if (l.startsWith('annotate server:')) count(errors, `server log: ${l.slice(0, 160)}`);

    // ---- every query answered exactly once, as its 200 said
    const verifyStarted = performance.now();
    const store = LabelStore.open(file, { readonly: true });
    const queries = store.queries({ run: RUN });
    const labels = new Map(store.labelledUnits(RUN).map((u) => [`${u.imageId}#${u.unit}`, u]));
    const maskCache = new Map<string, Uint8Array>();
    const maskOf = (imageId: string) => {
      let m = maskCache.get(imageId);
      if (m === undefined) {
        m = store.mask(RUN, imageId).data;
        maskCache.set(imageId, m);
      }
      return m;
    };
    let unitsChecked = 0;
    for (const q of queries) {
      const sent = answeredBy.get(q.id);
      if (q.status !== 'answered') {
        integrity.push(`query ${q.id} is ${q.status}`);
        continue;
      }
      if (sent === undefined) {
        integrity.push(`query ${q.id} is answered (by ${q.answeredBy}) but no client got a 200 for it`);
        continue;
      }
      if (q.answeredBy !== sent.who) integrity.push(`query ${q.id} answered by ${q.answeredBy} in the store, ${sent.who} got the 200`);
      if (q.seconds !== sent.seconds) integrity.push(`query ${q.id}: ${q.seconds} s stored, ${sent.seconds} s sent`);
      const mask = maskOf(q.imageId);
      q.units.forEach((u, pos) => {
        unitsChecked++;
        const row = labels.get(`${q.imageId}#${u.unit}`);
        if (row === undefined || row.queryId !== q.id || row.annotator !== sent.who) {
          integrity.push(`query ${q.id} unit ${u.unit}: label row ${JSON.stringify(row)}`);
          return;
        }
        for (const p of u.pixelIndices) {
          const expected = q.kind === 'region-class' ? unitClass(q.id, pos) : paintValue(q.id, p);
          if (mask[p] !== expected) {
            integrity.push(`query ${q.id} unit ${u.unit} pixel ${p}: stored ${mask[p]}, answered ${expected}`);
            return;
          }
        }
      });
    }
    if (queries.length !== totalQueries) integrity.push(`${queries.length} queries in the store, ${totalQueries} made`);
    if (labels.size !== totalQueries * unitsPerQuery) integrity.push(`${labels.size} labelled units in the store, ${totalQueries * unitsPerQuery} answered`);
    if (answeredBy.size !== totalQueries) integrity.push(`${answeredBy.size} answers got a 200, ${totalQueries} queries`);
    const progress = store.queryProgress(RUN, 1);
    store.close();
    const verifySeconds = (performance.now() - verifyStarted) / 1000;

    answerMs.sort((a, b) => a - b);
    leaseMs.sort((a, b) => a - b);
    const kinds = queries.reduce((m, q) => m.set(q.kind, (m.get(q.kind) ?? 0) + 1), new Map<string, number>());
    const result = {
      annotators,
      queries: totalQueries,
      unitsPerQuery,
      size: `${W}x${H}`,
      kinds: Object.fromEntries(kinds),
      fetchMask: values['fetch-mask'],
      setupSeconds,
      seconds,
      answersPerSecond: answeredBy.size / seconds,
      answerLatencyMs: {
        p50: percentile(answerMs, 0.5),
        p95: percentile(answerMs, 0.95),
        p99: percentile(answerMs, 0.99),
        max: answerMs[answerMs.length - 1] ?? NaN,
        n: answerMs.length,
      },
      leaseLatencyMs: { p50: percentile(leaseMs, 0.5), p95: percentile(leaseMs, 0.95), n: leaseMs.length },
      requestMbSent: bytesSent / 1e6,
      skips,
      refusals: Object.fromEntries(refusals),
      errors: Object.fromEntries(errors),
      server: stats,
      progress,
      verify: { ok: integrity.length === 0, unitsChecked, seconds: verifySeconds, problems: integrity.slice(0, 20), problemCount: integrity.length },
      node: process.version,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const ms = (v: number) => `${v.toFixed(1)} ms`;
      const lines = [
        `bench:studio: ${annotators} annotators, ${totalQueries} queries (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}; ${unitsPerQuery} units each, ${W}x${H} images)${result.fetchMask ? ", each query's outline PNG fetched" : ''}`,
        `server: adaseg serve (child process, pid ${pid})${stats ? `, peak RSS ${stats.peakRssMb.toFixed(0)} MB, CPU under load ${stats.cpuSeconds.toFixed(1)} s (${((1000 * stats.cpuSeconds) / Math.max(1, answeredBy.size)).toFixed(2)} ms per answered query, all its requests included; start-up ${stats.startupCpuSeconds.toFixed(1)} s not included)` : ''}`,
        `total time            ${seconds.toFixed(2)} s (setup ${setupSeconds.toFixed(2)} s not included)`,
        `answers/s             ${result.answersPerSecond.toFixed(1)}`,
        `answer latency        p50 ${ms(result.answerLatencyMs.p50)}, p95 ${ms(result.answerLatencyMs.p95)}, p99 ${ms(result.answerLatencyMs.p99)}, max ${ms(result.answerLatencyMs.max)} (n ${answerMs.length})`,
        `lease latency         p50 ${ms(result.leaseLatencyMs.p50)}, p95 ${ms(result.leaseLatencyMs.p95)} (n ${leaseMs.length})`,
        `request bodies        ${result.requestMbSent.toFixed(1)} MB of answers; ${skips} skips`,
        `refusals (expected)   ${refusals.size === 0 ? 'none' : [...refusals].map(([k, n]) => `${n} x ${k}`).join('; ')}`,
        `errors (unexpected)   ${errors.size === 0 ? 'none' : [...errors].map(([k, n]) => `${n} x ${k}`).join('; ')}`,
        `store check           ${integrity.length === 0 ? `ok: every query answered exactly once, as its 200 said (${unitsChecked} units, their pixels and label rows)` : `FAILED (${integrity.length}): ${integrity.slice(0, 5).join('; ')}`}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return integrity.length === 0 && errors.size === 0 ? 0 : 1;
  } finally {
    await server?.stop();
    if (values.keep) process.stderr.write(`bench:studio: run kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
