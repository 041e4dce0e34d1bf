// Engine micro-benchmark: conv2d forward+backward (contiguous and channels_last) and a 1024²
// float32 matmul, timed here and in PyTorch (bench/ops_peer.py, Debian's /usr/bin/python3 over
// the same libtorch 1.13.1), with the same shapes, seed, warm-up and iteration counts.
//
//   npm run bench:ops -- [--iters N] [--warmup N] [--rounds N] [--seed N] [--json]
//
// PyTorch runs in two processes. One is configured like our engine (same intra-op threads, and
// the environment variables the engine sets at load: OPENBLAS_CORETYPE, GOMP_SPINCOUNT): that is
// the parity check (ours/PyTorch median ≤ 1.10). The other keeps PyTorch's own
// defaults, which shows what our defaults gain. The three take turns: each op's timed calls are
// split into --rounds blocks, and the blocks of ours and of the two PyTorch processes alternate
// (the order rotating every round), so that drift in a busy or virtualised machine falls on all
// of them alike. A child node process with ADASEG_BLAS_CORETYPE=off times the matmul with
// OpenBLAS's own kernel detection, to show the effect of the kernels our engine selects.
// The exit code is 0 whatever the ratios: read the table.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

// The machine's environment, before the engine adds its defaults to process.env at load.
const machineEnv = { ...process.env };

const here = dirname(fileURLToPath(import.meta.url));
const PYTHON = '/usr/bin/python3';
const PEER = join(here, 'ops_peer.py');
const PARITY = 1.1;
// Timed ops during which other processes used more than this share of the CPU are flagged.
const NOISY = 0.05;
// Pause between blocks: idle OpenBLAS (pthread) workers spin for up to 2^28 cycles (~0.1 s)
// before they sleep, and would otherwise take CPU from the next process's block.
const PAUSE_MS = 250;
const OPS = ['conv2d fwd+bwd (contiguous)', 'conv2d fwd+bwd (channels_last)', 'matmul 1024x1024'] as const;
type OpName = (typeof OPS)[number];

const { values: opts } = parseArgs({
  options: {
    iters: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '6' },
    seed: { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
    // Internal: the ADASEG_BLAS_CORETYPE=off child; times the matmul only and prints JSON.
    'child-matmul': { type: 'boolean', default: false },
  },
  strict: true,
});

function intOption(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`bench:ops: --${name} must be an integer ≥ ${min}, got '${text}'`);
    process.exit(2);
  }
  return n;
}
const iters = intOption('iters', opts.iters!, 1);
const warmup = intOption('warmup', opts.warmup!, 0);
const rounds = Math.min(intOption('rounds', opts.rounds!, 1), iters);
const seed = intOption('seed', opts.seed!, 0);
/** Timed calls per round: iters split as evenly as possible. */
const blockSizes = Array.from({ length: rounds }, (_, r) => Math.floor(iters / rounds) + (r < iters % rounds ? 1 : 0));

const torch = await import('../src/index.js');
const F = torch.functional;
type Tensor = InstanceType<typeof torch.Tensor>;

// ---- timing ----
interface Block {
  timesMs: number[];
  busySeconds: number;
  ownSeconds: number;
  wallSeconds: number;
  minorFaults: number;
}
interface Timing {
  minMs: number;
  medianMs: number;
  /** Share of the machine's CPU that other processes used while the op was timed (0-1). */
  otherCpuShare: number;
  /** Minor page faults per timed call: memory fresh from the kernel, a sign of allocator churn. */
  faultsPerCall: number;
  timesMs: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** CPU seconds the whole machine has spent busy (all CPUs), from /proc/stat (USER_HZ = 100). */
function machineBusySeconds(): number {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  return (ticks.reduce((s, v) => s + v, 0) - ticks[3] - ticks[4]) / 100;
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** n untimed then m timed calls, each inside torch.tidy (all per-call tensors are freed). */
function timeBlock(fn: () => void, untimed: number, timed: number): Block {
  for (let i = 0; i < untimed; i++) torch.tidy(fn);
  const timesMs: number[] = [];
  const faults0 = process.resourceUsage().minorPageFault;
  const busy0 = machineBusySeconds();
  const own0 = ownCpuSeconds();
  const wall0 = process.hrtime.bigint();
  for (let i = 0; i < timed; i++) {
    const start = process.hrtime.bigint();
    torch.tidy(fn);
    timesMs.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return {
    timesMs,
    busySeconds: machineBusySeconds() - busy0,
    ownSeconds: ownCpuSeconds() - own0,
    wallSeconds: Number(process.hrtime.bigint() - wall0) / 1e9,
    minorFaults: process.resourceUsage().minorPageFault - faults0,
  };
}

function summary(blocks: Block[]): Timing {
  const timesMs = blocks.flatMap((b) => b.timesMs);
  const wall = blocks.reduce((s, b) => s + b.wallSeconds, 0);
  const others =
    Math.max(
      0,
      blocks.reduce((s, b) => s + b.busySeconds - b.ownSeconds, 0),
    ) /
    (wall * availableParallelism());
  const faultsPerCall = blocks.reduce((s, b) => s + b.minorFaults, 0) / timesMs.length;
  return { minMs: Math.min(...timesMs), medianMs: median(timesMs), otherCpuShare: others, faultsPerCall, timesMs };
}

// ---- our ops, on inputs made from the seed in the same order as ops_peer.py ----
function setupOurs(): { ops: Record<OpName, () => void>; checksums: Record<string, number> } {
  torch.manualSeed(seed);
  const x = torch.randn([8, 32, 64, 64]);
  const w = torch.randn([32, 32, 3, 3]);
  const a = torch.randn([1024, 1024]);
  const b = torch.randn([1024, 1024]);
  const checksums: Record<string, number> = {};
  for (const [k, t] of Object.entries({ x, w, a, b })) checksums[k] = torch.tidy(() => t.double().sum().item() as number);

  const convStep = (format: 'contiguous' | 'channels_last') => {
    // Leaves of their own (x and w stay plain); contiguous() of a contiguous tensor is itself.
    const xi = torch.keep(torch.tidy(() => x.detach().contiguous(format).requiresGrad_(true)));
    const wi = torch.keep(torch.tidy(() => w.detach().contiguous(format).requiresGrad_(true)));
    if (!xi.isContiguous(format) || !wi.isContiguous(format)) throw new Error(`bench:ops: inputs are not ${format}`);
    return () => {
      xi.grad = null;
      wi.grad = null;
      const out = F.conv2d(xi, wi, { padding: 1 });
      out.sum().backward();
    };
  };
  const ops: Record<OpName, () => void> = {
    'conv2d fwd+bwd (contiguous)': convStep('contiguous'),
    'conv2d fwd+bwd (channels_last)': convStep('channels_last'),
    // a and b do not require grad: no autograd recording, as in the peer.
    'matmul 1024x1024': () => {
      a.matmul(b);
    },
  };
  return { ops, checksums };
}

// ---- the ADASEG_BLAS_CORETYPE=off child ----
if (opts['child-matmul']) {
  const { ops } = setupOurs();
  const timing = summary([timeBlock(ops['matmul 1024x1024'], warmup, iters)]);
  process.stdout.write(JSON.stringify({ openblasCoretype: process.env.OPENBLAS_CORETYPE ?? null, threads: torch.getNumThreads(), timing }) + '\n');
  process.exit(0);
}

// ---- the PyTorch peers ----
interface PeerInfo {
  torchVersion: string;
  threads: number;
  openblasCoretype: string | null;
  openblas: Record<string, unknown>;
  checksums: Record<string, number>;
}

class Peer {
  readonly label: string;
  readonly env: NodeJS.ProcessEnv;
  info: PeerInfo | null = null;
  error: string | null = null;
  readonly blocks = new Map<OpName, Block[]>();
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  constructor(label: string, env: NodeJS.ProcessEnv, threads: number | null) {
    this.label = label;
    this.env = env;
    const args = [PEER, '--serve', '--seed', String(seed)];
    if (threads !== null) args.push('--threads', String(threads));
    this.child = spawn(PYTHON, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.child.on('error', (err) => (this.error ??= err.message));
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  private async reply(): Promise<Record<string, unknown> | null> {
    const next = await this.lines.next();
    if (next.done) {
      this.error ??= `the peer exited: ${this.stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`;
      return null;
    }
    return JSON.parse(next.value) as Record<string, unknown>;
  }

  async start(): Promise<void> {
    const ready = await this.reply();
    if (ready) this.info = ready as unknown as PeerInfo;
  }

  async run(op: OpName, untimed: number, timed: number): Promise<void> {
    if (this.error) return;
    this.child.stdin.write(JSON.stringify({ op, warmup: untimed, iters: timed }) + '\n');
    const r = await this.reply();
    if (!r) return;
    if (typeof r.error === 'string') {
      this.error = r.error;
      return;
    }
    const list = this.blocks.get(op) ?? [];
    list.push(r as unknown as Block);
    this.blocks.set(op, list);
  }

  results(): Partial<Record<OpName, Timing>> {
    if (this.error) return {};
    return Object.fromEntries([...this.blocks].map(([op, blocks]) => [op, summary(blocks)]));
  }

  close(): void {
    this.child.stdin.end();
  }
}

function envFor(coretype: string | null): NodeJS.ProcessEnv {
  const env = { ...machineEnv };
  if (coretype === null) delete env.OPENBLAS_CORETYPE;
  else env.OPENBLAS_CORETYPE = coretype;
  return env;
}

// ---- machine and library facts ----
function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function resolve(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return `${path} (missing)`;
  }
}

function debVersion(pkg: string): string | null {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout ? r.stdout : null;
}

/** OpenBLAS's kernel choice for a given OPENBLAS_CORETYPE (asked of OpenBLAS itself, via Python). */
function openblasCore(coretype: string | null): string {
  const r = spawnSync(PYTHON, [PEER, '--blas-info'], { env: envFor(coretype), encoding: 'utf8' });
  if (r.status !== 0) return 'unknown';
  try {
    const info = JSON.parse(r.stdout).openblas as { corename?: string; parallel?: string };
    return `${info.corename ?? 'unknown'} (${info.parallel ?? '?'})`;
  } catch {
    return 'unknown';
  }
}

type BlasOff = { openblasCoretype: string | null; threads: number; timing: Timing } | { error: string };

function runBlasOffChild(): BlasOff {
  const env = { ...machineEnv, ADASEG_BLAS_CORETYPE: 'off' };
  const args = [
    ...process.execArgv,
    fileURLToPath(import.meta.url),
    '--child-matmul',
    '--iters',
    String(iters),
    '--warmup',
    String(warmup),
    '--seed',
    String(seed),
  ];
  const r = spawnSync(process.execPath, args, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return { error: r.error?.message ?? `exit ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as BlasOff;
}

// ---- run ----
const log = (s: string) => {
  if (!opts.json) process.stderr.write(s + '\n');
};
const startedAt = new Date();
const load0 = loadavg()[0];
const info = torch.buildInfo();
const ourThreads = torch.getNumThreads();
const ourCoretype = process.env.OPENBLAS_CORETYPE ?? null;
// What the engine added to the environment at load (OPENBLAS_CORETYPE, GOMP_SPINCOUNT, ...):
// PyTorch "configured like ours" gets the same.
const engineEnv: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && machineEnv[k] !== v) engineEnv[k] = v;
const engineEnvText =
  Object.entries(engineEnv)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ') || 'nothing';

log(`bench:ops: ${iters} timed calls per op in ${rounds} rounds, after ${warmup} warm-up calls; seed ${seed}`);
const ours = setupOurs();
const peerAsOurs = new Peer('PyTorch configured like ours', { ...machineEnv, ...engineEnv }, ourThreads);
const peerDefaults = new Peer('PyTorch defaults', { ...machineEnv }, null);
await Promise.all([peerAsOurs.start(), peerDefaults.start()]);

type Runner = { name: string; run: (op: OpName, untimed: number, timed: number) => Promise<void> };
const ourBlocks = new Map<OpName, Block[]>();
const runners: Runner[] = [
  {
    name: 'ours',
    run: async (op, untimed, timed) => {
      const list = ourBlocks.get(op) ?? [];
      list.push(timeBlock(ours.ops[op], untimed, timed));
      ourBlocks.set(op, list);
    },
  },
  { name: 'PyTorch like ours', run: (op, u, t) => peerAsOurs.run(op, u, t) },
  { name: 'PyTorch defaults', run: (op, u, t) => peerDefaults.run(op, u, t) },
];

for (const op of OPS) {
  log(`  ${op}`);
  for (const r of runners) {
    await r.run(op, warmup, 0);
    await sleep(PAUSE_MS);
  }
  for (let round = 0; round < rounds; round++) {
    // Rotate who goes first; one untimed call re-warms caches after the other processes ran.
    for (let k = 0; k < runners.length; k++) {
      await runners[(round + k) % runners.length].run(op, 1, blockSizes[round]);
      await sleep(PAUSE_MS);
    }
  }
}
peerAsOurs.close();
peerDefaults.close();
log('  matmul with ADASEG_BLAS_CORETYPE=off (child process)');
const blasOff = runBlasOffChild();

const ourResults = Object.fromEntries(OPS.map((op) => [op, summary(ourBlocks.get(op)!)])) as Record<OpName, Timing>;
const cores = availableParallelism();
const blas = {
  libblas: resolve('/etc/alternatives/libblas.so.3-x86_64-linux-gnu'),
  libopenblas: resolve('/etc/alternatives/libopenblas.so.0-x86_64-linux-gnu'),
  machineOpenblasCoretype: machineEnv.OPENBLAS_CORETYPE ?? null,
  ourOpenblasCoretype: ourCoretype,
  ourKernels: openblasCore(ourCoretype),
  detectedKernels: openblasCore(machineEnv.OPENBLAS_CORETYPE ?? null),
};

function sameInputs(peer: Peer): boolean | null {
  const sums = peer.info?.checksums;
  if (!sums) return null;
  return Object.entries(ours.checksums).every(([k, v]) => Math.abs(v - (sums[k] ?? NaN)) <= 1e-9 * Math.max(1, Math.abs(v)));
}

interface Row {
  op: OpName;
  oursMinMs: number;
  oursMedianMs: number;
  torchMinMs: number | null;
  torchMedianMs: number | null;
  ratio: number | null;
  pass: boolean | null;
  oursFaultsPerCall: number;
  torchFaultsPerCall: number | null;
}

function rows(peer: Peer): Row[] {
  const results = peer.results();
  return OPS.map((op) => {
    const o = ourResults[op];
    const p = results[op];
    const ratio = p ? o.medianMs / p.medianMs : null;
    return {
      op,
      oursMinMs: o.minMs,
      oursMedianMs: o.medianMs,
      torchMinMs: p?.minMs ?? null,
      torchMedianMs: p?.medianMs ?? null,
      ratio,
      pass: ratio === null ? null : ratio <= PARITY,
      oursFaultsPerCall: o.faultsPerCall,
      torchFaultsPerCall: p?.faultsPerCall ?? null,
    };
  });
}

const parityRows = rows(peerAsOurs);
const defaultRows = rows(peerDefaults);
const blasOnMedian = ourResults['matmul 1024x1024'].medianMs;
const blasOffMedian = 'timing' in blasOff ? blasOff.timing.medianMs : null;

const sections: [string, Timing | undefined][] = [
  ...OPS.map((op): [string, Timing | undefined] => [`ours: ${op}`, ourResults[op]]),
  ...OPS.map((op): [string, Timing | undefined] => [`PyTorch like ours: ${op}`, peerAsOurs.results()[op]]),
  ...OPS.map((op): [string, Timing | undefined] => [`PyTorch defaults: ${op}`, peerDefaults.results()[op]]),
  ['ours, ADASEG_BLAS_CORETYPE=off: matmul', 'timing' in blasOff ? blasOff.timing : undefined],
];
const noisy = sections.filter(([, t]) => t !== undefined && t.otherCpuShare > NOISY).map(([section, t]) => ({ section, otherCpuShare: t!.otherCpuShare }));
const maxOther = Math.max(0, ...sections.map(([, t]) => t?.otherCpuShare ?? 0));

function peerReport(peer: Peer, rs: Row[]) {
  return {
    label: peer.label,
    threads: peer.info?.threads ?? null,
    openblasCoretype: peer.env.OPENBLAS_CORETYPE ?? null,
    env: peer === peerAsOurs ? engineEnv : {},
    sameInputs: sameInputs(peer),
    openblas: peer.info?.openblas ?? null,
    error: peer.error,
    rows: rs,
    timesMs: Object.fromEntries(OPS.map((op) => [op, peer.results()[op]?.timesMs ?? null])),
  };
}

const report = {
  command: `npm run bench:ops${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
  date: startedAt.toISOString(),
  machine: { cpu: cpuModel(), cores, loadAverage1mAtStart: load0, maxOtherCpuShare: maxOther, noisySections: noisy },
  libtorch: { version: info.torchVersion, debianPackage: debVersion('libtorch-dev'), pytorchPeer: peerAsOurs.info?.torchVersion ?? null },
  blas,
  ours: { threads: ourThreads, openblasCoretype: ourCoretype, engineEnv, timesMs: Object.fromEntries(OPS.map((op) => [op, ourResults[op].timesMs])) },
  iters,
  warmup,
  rounds,
  seed,
  parity: peerReport(peerAsOurs, parityRows),
  defaults: peerReport(peerDefaults, defaultRows),
  blasEffect: {
    matmulDefaultMs: blasOnMedian,
    defaultKernels: blas.ourKernels,
    matmulBlasOffMs: blasOffMedian,
    blasOffKernels: blas.detectedKernels,
    speedup: blasOffMedian === null ? null : blasOffMedian / blasOnMedian,
    error: 'error' in blasOff ? blasOff.error : null,
  },
};

if (opts.json) {
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  process.exit(0);
}

// ---- human-readable output ----
const ms = (v: number | null) => (v === null ? '—' : v.toFixed(2));

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(header), sep, ...body.map(line)].join('\n');
}

const out: string[] = [];
out.push(`command: ${report.command}`);
out.push(`date:    ${report.date}`);
out.push(`machine: ${report.machine.cpu}, ${cores} cores; load average at start ${load0.toFixed(2)}`);
out.push(
  `libtorch ${info.torchVersion} (Debian libtorch-dev ${report.libtorch.debianPackage ?? '?'}); PyTorch peer ${report.libtorch.pytorchPeer ?? '?'} (${PYTHON})`,
);
out.push(`BLAS:    libblas.so.3 -> ${blas.libblas}`);
out.push(`         libopenblas.so.0 -> ${blas.libopenblas}`);
out.push(
  `         OPENBLAS_CORETYPE: machine ${blas.machineOpenblasCoretype ?? 'unset'}, ours ${ourCoretype ?? 'unset'} -> kernels ${blas.ourKernels}` +
    ` (OpenBLAS's own choice here: ${blas.detectedKernels})`,
);
out.push(`threads: ours ${ourThreads} intra-op; PyTorch default ${peerDefaults.info?.threads ?? '?'}`);
out.push(`engine environment set at load: ${engineEnvText} (given to PyTorch "configured like ours" too)`);
out.push(`timing:  ${iters} timed calls per op in ${rounds} interleaved rounds, after ${warmup} warm-up calls; seed ${seed}; min and median in ms`);
out.push('');

for (const [title, peer, rs, parity] of [
  [
    `${peerAsOurs.label} (threads ${peerAsOurs.info?.threads ?? '?'}, ${engineEnvText}): parity check, ours/PyTorch ≤ ${PARITY.toFixed(2)}`,
    peerAsOurs,
    parityRows,
    true,
  ],
  [
    `${peerDefaults.label} (threads ${peerDefaults.info?.threads ?? '?'}, machine environment, OPENBLAS_CORETYPE ${machineEnv.OPENBLAS_CORETYPE ?? 'unset'}): what our defaults gain`,
    peerDefaults,
    defaultRows,
    false,
  ],
] as const) {
  out.push(title);
  if (peer.error) {
    out.push(`  PyTorch peer failed: ${peer.error}`);
    out.push('');
    continue;
  }
  const header = [
    'op',
    'ours min',
    'ours median',
    'PyTorch min',
    'PyTorch median',
    'ratio',
    parity ? `≤ ${PARITY.toFixed(2)}` : 'ours faster',
    'page faults/call ours / PyTorch',
  ];
  const body = rs.map((r) => [
    r.op,
    ms(r.oursMinMs),
    ms(r.oursMedianMs),
    ms(r.torchMinMs),
    ms(r.torchMedianMs),
    ms(r.ratio),
    parity ? (r.pass === null ? '—' : r.pass ? 'yes' : 'NO') : r.ratio === null ? '—' : `${(1 / r.ratio).toFixed(2)}x`,
    `${r.oursFaultsPerCall.toFixed(0)} / ${r.torchFaultsPerCall === null ? '—' : r.torchFaultsPerCall.toFixed(0)}`,
  ]);
  out.push(table(header, body));
  const same = sameInputs(peer);
  out.push(`  inputs identical to ours (checksums): ${same === null ? 'unknown' : same ? 'yes' : 'NO'}`);
  out.push('');
}

out.push('BLAS effect: 1024x1024 float32 matmul, ours');
if ('error' in blasOff) out.push(`  ADASEG_BLAS_CORETYPE=off child failed: ${blasOff.error}`);
else {
  out.push(
    table(
      ['kernels', 'OPENBLAS_CORETYPE', 'min', 'median'],
      [
        [`engine default: ${blas.ourKernels}`, ourCoretype ?? 'unset', ms(ourResults['matmul 1024x1024'].minMs), ms(blasOnMedian)],
        [`ADASEG_BLAS_CORETYPE=off: ${blas.detectedKernels}`, blasOff.openblasCoretype ?? 'unset', ms(blasOff.timing.minMs), ms(blasOff.timing.medianMs)],
      ],
    ),
  );
  out.push(`  the engine's kernel choice makes the matmul ${report.blasEffect.speedup!.toFixed(1)}x faster`);
  if (machineEnv.OPENBLAS_CORETYPE !== undefined) out.push('  (OPENBLAS_CORETYPE is set in the environment, so =off changes nothing here)');
}
out.push('');

const failed = parityRows.filter((r) => r.pass === false);
if (peerAsOurs.error) out.push('PARITY: not checked (the PyTorch peer failed)');
else if (failed.length === 0) out.push(`PARITY: ok, every op within ${PARITY.toFixed(2)}x of PyTorch configured like ours`);
else out.push(`PARITY: FAILED for ${failed.map((r) => `${r.op} (${r.ratio!.toFixed(2)}x)`).join(', ')}`);
if (noisy.length > 0) {
  out.push(
    `WARNING: other processes used more than ${NOISY * 100}% of the machine's CPU while these were timed, so their figures are unreliable: ` +
      noisy.map((n) => `${n.section} (${(n.otherCpuShare * 100).toFixed(0)}%)`).join(', ') +
      '. Run again on an idle machine.',
  );
} else {
  out.push(`quiet machine: other processes used at most ${(maxOther * 100).toFixed(1)}% of the CPU while any op was timed`);
}
process.stdout.write(out.join('\n') + '\n');
