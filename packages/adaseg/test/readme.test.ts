// The root README.md is a user guide whose every shell command runs here, on tiny data, so the
// guide cannot drift from the code:
//   - every command line of its ```sh/```bash blocks must be listed in COMMANDS below (a command
//     the README gains without a test here fails the first test, and so does a listed command the
//     README lost), and every listed command is run by one of the tests (checked by the last);
//   - commands run verbatim from a scratch folder standing for the repository root (the CLI
//     in-process, or as a child process where a person runs it in a terminal of its own), with the
//     README's example files written there from the README's own blocks: its meta.json, its
//     configs (made tiny by the explicit TINY_* overrides: iterations, sizes, seeds), its Python;
//   - the data layouts are the data tests' fixtures (helpers/data-fixtures.ts), linked under data/;
//   - what cannot run inside a test (set-up, npm test, a build against another libtorch) is checked
//     against what it stands for (.ci/run, setup.sh, packages/torch/scripts/libtorch.cjs);
//   - the experiment config reference (its tables) is checked against the config parser itself:
//     every key the parser accepts at every place (found by probing it with an unknown key, which
//     the parser refuses listing the keys it allows), the values of every enumeration, and every
//     default written as one value, or as "required".
// About a minute on an idle 2-core machine (most of it the demo and the tiny experiments).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import * as torch from '@adaseg/torch';
import { type ExperimentConfig, parseExperimentConfig } from '../src/experiment/config.js';
import { run, ROOT } from '../src/cli/run.js';
import type { Command } from '../src/cli/command.js';
import { readFolderMeta } from '../src/data/formats/index.js';
import { renderScene } from '../src/data/synthetic.js';
import { parseTrainConfig } from '../src/train/config.js';
import { makeFixtures, type Fixtures, writeGray, writeRgb } from './helpers/data-fixtures.js';

torch.setNumThreads(1);

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = join(PACKAGE, '..', '..');
const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const MAIN = join(PACKAGE, 'src', 'cli', 'main.ts');
const TSX = import.meta.resolve('tsx');
/** Child processes: one engine thread each (the machine is shared), no colours. */
// NODE_TEST_CONTEXT dropped: a `node --test` run by a README command reports as a test run of its own.
const { NODE_TEST_CONTEXT: _context, ...parentEnv } = process.env;
const CHILD_ENV: NodeJS.ProcessEnv = { ...parentEnv, OMP_NUM_THREADS: '1', NO_COLOR: '1' };

// ------------------------------------------------------------------ reading the README

interface Block {
  lang: string;
  text: string;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  const re = /^```([\w-]*)[^\n]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (let m = re.exec(markdown); m !== null; m = re.exec(markdown)) out.push({ lang: m[1], text: m[2] });
  return out;
}

/** A trailing `# comment` outside quotes removed. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote !== null) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

/** The command lines of the README's shell blocks (continuations joined, comments and blank lines dropped). */
function shellCommands(): string[] {
  const out: string[] = [];
  for (const b of blocks(README).filter((x) => x.lang === 'sh' || x.lang === 'bash' || x.lang === 'shell')) {
    let pending = '';
    for (const raw of b.text.split('\n')) {
      const line = stripComment(raw).trimEnd();
      if (line.endsWith('\\')) {
        pending += `${line.slice(0, -1).trim()} `;
        continue;
      }
      const full = (pending + line.trim()).replace(/\s+/g, ' ').trim();
      pending = '';
      if (full !== '') out.push(full);
    }
  }
  return out;
}

/** The README block of a language whose first line is `# <name>` (an example file), without that line. */
function namedBlock(lang: string, name: string): string {
  const found = blocks(README).filter((b) => b.lang === lang && b.text.split('\n')[0].replace(/^#\s*/, '').split(/[:\s]/)[0] === name);
  assert.equal(found.length, 1, `the README has one \`\`\`${lang} block starting with '# ${name}'`);
  return found[0].text;
}

function onlyBlock(lang: string): string {
  const found = blocks(README).filter((b) => b.lang === lang);
  assert.equal(found.length, 1, `the README has one \`\`\`${lang} block`);
  return found[0].text;
}

/** The text of a README section from its heading to the next heading of the same or a higher level. */
function section(heading: string): string {
  const lines = README.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  assert.ok(start >= 0, `README section '${heading}'`);
  const level = heading.match(/^#+/)![0].length;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    const m = /^(#+)\s/.exec(lines[i]);
    if (m && m[1].length <= level) {
      end = i;
      break;
    }
  }
  return lines.slice(start + 1, end).join('\n');
}

// ------------------------------------------------------------------ the commands and who runs them

/** Every command of the README, with the test that runs it (or the equivalent it is checked by). */
const COMMANDS = new Map<string, string>([
  ['./setup.sh', 'install: the commands .ci/run runs'],
  ['npm test', 'install: the commands .ci/run runs'],
  ['npx adaseg demo', 'the demo (as --quick, into a scratch folder)'],
  ['npx adaseg report --run adaseg-demo', 'the demo (as --quick, into a scratch folder)'],
  ['npx adaseg data inspect data/cityscapes --split train', 'bring your own data'],
  ['npx adaseg data inspect data/gta5 --split train --classes 16', 'bring your own data'],
  ['npx adaseg data inspect data/synthia --classes 16', 'bring your own data'],
  ['npx adaseg data inspect data/camvid --split val', 'bring your own data'],
  ['npx adaseg data inspect data/my-dataset --split source_train', 'bring your own data'],
  ['npx adaseg data inspect synthetic --style target --count 8', 'bring your own data'],
  ['npx adaseg run --config my-experiment.yaml', 'first experiment: Ctrl-C, the same command resumes, report'],
  ['npx adaseg report --run runs/my-experiment', 'first experiment: Ctrl-C, the same command resumes, report'],
  ['npx adaseg report --run runs/my-experiment --svg budget.svg', 'first experiment: Ctrl-C, the same command resumes, report'],
  ['npx adaseg run --config my-human-experiment.yaml', 'human annotation'],
  ['npx adaseg users add alice --role annotator --run runs/my-human-experiment', 'human annotation'],
  ['npx adaseg serve --run runs/my-human-experiment --port 8080', 'human annotation (on a free port)'],
  ['npx adaseg users list --run runs/my-human-experiment', 'human annotation'],
  ['npx adaseg labels export --run runs/my-human-experiment --out my-labels', 'human annotation'],
  ['npx adaseg labels import --run runs/my-human-experiment --from my-labels --annotator alice --dry-run', 'human annotation'],
  ['npx adaseg users remove alice --run runs/my-human-experiment', 'human annotation'],
  ['LIBTORCH=/opt/libtorch ./setup.sh', 'GPU: what LIBTORCH changes in setup.sh and the build'],
  [
    'node -e "import(\'@adaseg/torch\').then((t) => console.log(t.buildInfo().builtWithCuda, t.cuda.isAvailable()))"',
    'GPU: what LIBTORCH changes in setup.sh and the build',
  ],
  ['python3 save_backbone.py', 'PyTorch weights'],
  ['npx adaseg weights convert resnet18-backbone.pth resnet18-backbone.safetensors', 'PyTorch weights'],
  ['npx adaseg weights inspect resnet18-backbone.safetensors', 'PyTorch weights'],
  ['npx adaseg train --config my-source.yaml --weights resnet18-backbone.safetensors', 'PyTorch weights'],
  ['npx adaseg eval --checkpoint runs/my-source data/my-dataset --split target_val', 'PyTorch weights'],
  ['npx adaseg weights convert --print-snippet > convert.py', 'PyTorch weights'],
  ['python3 convert.py resnet18-backbone.pth resnet18-backbone.safetensors', 'PyTorch weights'],
  ['npx adaseg run --help', 'CLI reference'],
  ['cd packages/adaseg && node --import tsx --test test/data.formats.test.ts', 'development: one test file'],
]);

const exercised = new Set<string>();

/** A README command about to run (or be checked): it must be in the README and in COMMANDS. */
function readme(command: string): string {
  assert.ok(COMMANDS.has(command), `not in COMMANDS: ${command}`);
  assert.ok(shellCommands().includes(command), `the README no longer has: ${command}`);
  exercised.add(command);
  return command;
}

interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** argv of an `npx adaseg ...` line (the README's CLI commands have no quotes or shell syntax). */
function argvOf(command: string): string[] {
  assert.ok(command.startsWith('npx adaseg '), command);
  assert.ok(!/["'`$|;&<>]/.test(command), `plain words only: ${command}`);
  return command.slice('npx adaseg '.length).split(' ');
}

/**
 * Runs an `npx adaseg ...` README command in this process (cwd: the scratch folder), with words
 * substituted and flags added where the test needs them (each use says why).
 */
async function cli(command: string, substitute: Record<string, string> = {}, extra: string[] = []): Promise<CliResult> {
  return runCli([...argvOf(readme(command)).map((a) => substitute[a] ?? a), ...extra]);
}

async function runCli(argv: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

function ok(r: CliResult, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.err}\n${r.out}`);
}

/** Runs an `npx adaseg ...` README command as a child process in the scratch folder (as a person in a terminal). */
function spawnCli(
  command: string,
  substitute: Record<string, string> = {},
): { child: ChildProcess; out: string[]; err: string[]; exit: Promise<number | null> } {
  const argv = argvOf(readme(command)).map((a) => substitute[a] ?? a);
  const child = spawn(process.execPath, ['--import', TSX, MAIN, ...argv], { cwd: work, env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => out.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => err.push(l));
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  children.add(child);
  void exit.then(() => children.delete(child));
  return { child, out, err, exit };
}

/** Runs an `npx adaseg ... > FILE` README command in this process, its output written to FILE (in the scratch folder). */
async function cliToFile(command: string): Promise<CliResult> {
  readme(command);
  const [left, file, ...rest] = command.split(' > ');
  assert.ok(file !== undefined && rest.length === 0 && /^[\w.-]+$/.test(file), command);
  const r = await runCli(argvOf(left));
  writeFileSync(join(work, file), r.out);
  return r;
}

/** Runs a README command line through bash (for the non-adaseg ones), returning its output. */
function shell(command: string, cwd: string, env: NodeJS.ProcessEnv = CHILD_ENV): CliResult {
  const r = spawnSync('bash', ['-c', readme(command)], { cwd, env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr + (r.error ? String(r.error) : '') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, seconds: number, context: () => string = () => ''): Promise<void> {
  const started = performance.now();
  while (!check()) {
    assert.ok(performance.now() - started < seconds * 1000, `${what} within ${seconds} s${context()}`);
    await sleep(50);
  }
}

// ------------------------------------------------------------------ the scratch "repository"

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `over` merged into `base` (objects key by key; anything else replaced). */
function merge(base: Obj, over: Obj): Obj {
  const out: Obj = structuredClone(base);
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(out[k]) ? merge(out[k] as Obj, v) : structuredClone(v);
  return out;
}

/** The scene size of the test's folder dataset: the smallest the adversarial discriminator accepts (32). */
const SIZE = { width: 40, height: 32 };

/**
 * What makes the README's configs tiny (and nothing else changes): one seed, a small U-Net, the
 * scenes' own size, few iterations. Source training is long enough for Ctrl-C to land in it.
 */
const TINY_EXPERIMENT: Obj = {
  seeds: [0],
  model: { kind: 'unet', baseWidth: 4, depth: 2 },
  data: { resolution: SIZE },
  source: { train: { iterations: 150, logEvery: 1, checkpointEvery: 50 } },
  warmup: { train: { iterations: 2 }, adapt: { discriminator: { ndf: 4 } } },
  active: { budget: { rounds: 2 } },
  rounds: { train: { iterations: 2 } },
  report: { examples: 1 },
};
/** The human run: as tiny, with quick polling. */
const TINY_HUMAN: Obj = merge(TINY_EXPERIMENT, { source: { train: { iterations: 4 } }, annotator: { pollSeconds: 0.1 } });
const TINY_SOURCE: Obj = { data: { batchSize: 2, workers: 0 }, train: { iterations: 2 } };

/** Python run by the test instead of the README's: no download of ImageNet weights here. */
const PYTHON_SUBSTITUTE: [string, string][] = [["weights='IMAGENET1K_V1'", 'weights=None']];

/** The README's dataset paths (data/...): the data tests' fixtures of each layout, and the test's folder dataset. */
let fixtures: Fixtures;
let work: string;
const children = new Set<ChildProcess>();
const startDir = process.cwd();

async function writeMyDataset(root: string): Promise<void> {
  // The README's meta.json, as is; scenes of the synthetic pair drawn into files of that layout.
  mkdirSync(join(root, 'images'), { recursive: true });
  mkdirSync(join(root, 'labels'), { recursive: true });
  writeFileSync(join(root, 'meta.json'), onlyBlock('json'));
  const splits: [string, 'source' | 'target', number][] = [
    ['source_train', 'source', 4],
    ['target_pool', 'target', 4],
    ['target_val', 'target', 2],
  ];
  let seed = 1;
  for (const [split, style, count] of splits) {
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `${split}_${i}`;
      const scene = renderScene({ seed: seed++, width: SIZE.width, height: SIZE.height, style });
      await writeRgb(join(root, 'images', `${name}.png`), scene.image, SIZE.width, SIZE.height);
      await writeGray(join(root, 'labels', `${name}.png`), scene.label, SIZE.width, SIZE.height);
      names.push(`${name}.png`);
    }
    writeFileSync(join(root, `${split}.txt`), `${names.join('\n')}\n`);
  }
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'adaseg-readme-'));
  fixtures = await makeFixtures();
  mkdirSync(join(work, 'data'));
  const links: Record<string, string> = {
    'data/cityscapes': fixtures.cityscapes.root,
    'data/gta5': fixtures.gta5.root,
    'data/synthia': fixtures.synthia.root,
    'data/camvid': fixtures.camvid.root,
  };
  for (const [path, target] of Object.entries(links)) symlinkSync(target, join(work, path));
  await writeMyDataset(join(work, 'data', 'my-dataset'));
  process.chdir(work);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  process.chdir(startDir);
  await fixtures?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

// ------------------------------------------------------------------ tests

test('every shell command of the README is run by this test, and this test runs nothing the README lost', () => {
  const inReadme = shellCommands();
  const unknown = inReadme.filter((c) => !COMMANDS.has(c));
  assert.deepEqual(
    unknown,
    [],
    `README commands this test does not run: add each to COMMANDS in test/readme.test.ts with a test that runs it:\n${unknown.join('\n')}`,
  );
  const lost = [...COMMANDS.keys()].filter((c) => !inReadme.includes(c));
  assert.deepEqual(lost, [], 'COMMANDS lists commands the README no longer has');
});

test("install: the README's two set-up commands are exactly those .ci/run runs", () => {
  const ci = readFileSync(join(REPO, '.ci', 'run'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('set ') && !l.startsWith('cd '));
  const install = section('## Install');
  const first = blocks(install).find((b) => b.lang === 'sh');
  assert.ok(first, 'an sh block in Install');
  const commands = first.text
    .split('\n')
    .map((l) => stripComment(l).trim())
    .filter((l) => l !== '');
  assert.deepEqual(commands, ci);
  for (const c of commands) readme(c);
  // What the text says they do: setup.sh ends with npm ci and npm run build; npm test runs both packages.
  const setup = readFileSync(join(REPO, 'setup.sh'), 'utf8');
  assert.match(setup, /^npm ci\b/m);
  assert.match(setup, /^npm run build$/m);
  for (const p of ['libtorch-dev', 'libopenblas0-pthread', 'python3-torch', 'python3-torchvision', 'chromium']) {
    assert.ok(setup.includes(p), `setup.sh installs ${p}`);
    assert.ok(install.includes(p), `the README names ${p}`);
  }
  const rootPackage = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  assert.equal(rootPackage.scripts.test, 'npm test --workspaces --if-present');
});

// ---- the config reference against the parser

const PROBE = '__probe__';

function parse(raw: Obj): ExperimentConfig {
  return parseExperimentConfig(raw, '/nonexistent/readme-probe');
}

function refusal(raw: Obj): string | null {
  try {
    parse(raw);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

const unquote = (s: string) => s.trim().replace(/^['"]|['"]$/g, '');

/** The keys a parser allows, from its refusal of an unknown key. */
function allowedKeys(message: string | null): string[] | null {
  const m = message === null ? null : /unknown key '__probe__'[^(]*\((?:allowed|known keys|expected):? ([^)]*)\)/.exec(message);
  return m ? m[1].split(',').map(unquote) : null;
}

/** The values of an enumeration, from the parser's refusal of an unknown value. */
function allowedValues(message: string | null): string[] | null {
  if (message === null) return null;
  const m = /one of (.+?),? got /.exec(message) ?? /unknown kind "__probe__" \(expected ([^)]*)\)/.exec(message);
  return m ? m[1].split(',').map(unquote) : null;
}

const dataset = (split: string) => ({ format: 'folder', root: 'd', split });
function base(): Obj {
  return {
    data: { source: dataset('s'), pool: dataset('p'), val: dataset('v') },
    source: { train: {} },
    active: { units: { kind: 'region', k: 1 }, budget: { kind: 'pixelPercent', total: 5 }, strategies: ['entropy'] },
    rounds: { train: {} },
  };
}
/** Sets `value` at `path` in `raw` (replacing what was there), creating objects on the way. */
function put(raw: Obj, path: string[], value: unknown): void {
  let o = raw;
  for (const k of path.slice(0, -1)) {
    if (!isObj(o[k])) o[k] = {};
    o = o[k] as Obj;
  }
  o[path.at(-1)!] = structuredClone(value);
}

/** The base config with `x` at `path`, after the replacements of `context` (what the place needs around it). */
function at(path: string[], x: unknown, context: [string[], unknown][] = []): Obj {
  const raw = base();
  for (const [p, v] of context) put(raw, p, v);
  put(raw, path, x);
  return raw;
}
const ADVERSARIAL_WARMUP: [string[], unknown][] = [[['warmup'], { train: {}, adapt: { method: 'adaptsegnet' } }]];

/** One place of the experiment config, with the README table that documents it. */
interface Place {
  name: string;
  /** Heading of the README table (its start). */
  table: string;
  /** Row names are prefix + key. */
  prefix?: string;
  /** Keys may be mentioned anywhere in the table instead of as rows. */
  inline?: boolean;
  /** The key telling the variants apart. */
  variant?: string;
  /** A valid object at this place (for a variant). */
  minimal: (variant?: string) => Obj;
  /** The whole raw config with `x` at this place. */
  wrap: (x: Obj, variant?: string) => Obj;
  /** The parsed object at this place. */
  read: (c: ExperimentConfig) => unknown;
}

const DATASET_MINIMAL: Record<string, Obj> = {
  folder: { root: 'd' },
  camvid: { root: 'd', split: 'train' },
  cityscapes: { root: 'd', split: 'train' },
  gta5: { root: 'd' },
  synthia: { root: 'd' },
  synthetic: { style: 'source', count: 1, width: 8, height: 8 },
};
const TRANSFORM_MINIMAL: Record<string, Obj> = {
  resize: { width: 8, height: 8 },
  randomCrop: { width: 8, height: 8 },
  centerCrop: { width: 8, height: 8 },
  randomScale: { min: 0.5, max: 2 },
};
const train = (c: ExperimentConfig) => (c.source as unknown as { train: Obj }).train;

const PLACES: Place[] = [
  { name: 'config', table: '#### Top level', minimal: () => base(), wrap: (x) => x, read: (c) => c },
  { name: 'model', table: '#### `model`', variant: 'kind', minimal: (v) => ({ kind: v }), wrap: (x) => at(['model'], x), read: (c) => c.model },
  { name: 'data', table: '#### `data`', minimal: () => base().data as Obj, wrap: (x) => ({ ...base(), data: x }), read: (c) => c.data },
  {
    name: 'data.resolution',
    table: '#### `data`',
    prefix: 'resolution.',
    minimal: () => ({ width: 8, height: 8 }),
    wrap: (x) => at(['data', 'resolution'], x),
    read: (c) => c.data.resolution,
  },
  {
    name: 'data.normalize',
    table: '#### `data`',
    inline: true,
    minimal: () => ({ mean: [0, 0, 0], std: [1, 1, 1] }),
    wrap: (x) => at(['data', 'normalize'], x),
    read: (c) => c.data.normalize,
  },
  {
    name: 'dataset',
    table: '#### Datasets',
    variant: 'format',
    minimal: (v) => ({ format: v, ...DATASET_MINIMAL[v!] }),
    wrap: (x) => at(['data', 'val'], x),
    read: (c) => c.data.val,
  },
  {
    name: 'transform',
    table: '#### Transforms',
    variant: 'kind',
    minimal: (v) => ({ kind: v, ...(TRANSFORM_MINIMAL[v!] ?? {}) }),
    wrap: (x) => at(['data', 'transforms'], [x]),
    read: (c) => c.data.transforms[0],
  },
  { name: 'source', table: '#### `source`', minimal: () => ({ train: {} }), wrap: (x) => ({ ...base(), source: x }), read: (c) => c.source },
  { name: 'source.train', table: '#### Train sections', minimal: () => ({}), wrap: (x) => at(['source', 'train'], x), read: train },
  {
    name: 'warmup.train',
    table: '#### Train sections',
    minimal: () => ({}),
    wrap: (x) => at(['warmup', 'train'], x, [[['warmup', 'adapt'], { method: 'advent-entropy' }]]),
    read: (c) => c.warmup!.train,
  },
  { name: 'rounds.train', table: '#### Train sections', minimal: () => ({}), wrap: (x) => at(['rounds', 'train'], x), read: (c) => c.rounds.train },
  {
    name: 'optimizer',
    table: '#### Train sections',
    prefix: 'optimizer.',
    variant: 'kind',
    minimal: (v) => ({ kind: v }),
    wrap: (x) => at(['source', 'train', 'optimizer'], x),
    read: (c) => train(c).optimizer,
  },
  {
    name: 'schedule',
    table: '#### Train sections',
    prefix: 'schedule.',
    variant: 'kind',
    minimal: (v) => ({ kind: v, ...(v === 'step' ? { stepSize: 10 } : {}) }),
    wrap: (x) => at(['source', 'train', 'schedule'], x),
    read: (c) => train(c).schedule,
  },
  {
    name: 'warmup',
    table: '#### `warmup`',
    minimal: () => ({ train: {}, adapt: { method: 'advent-entropy' } }),
    wrap: (x) => at(['warmup'], x),
    read: (c) => c.warmup,
  },
  {
    name: 'warmup.adapt',
    table: '#### Adapt sections',
    variant: 'method',
    minimal: (v) => ({ method: v }),
    wrap: (x) => at(['warmup', 'adapt'], x, [[['warmup', 'train'], {}]]),
    read: (c) => c.warmup!.adapt,
  },
  {
    name: 'rounds.adapt',
    table: '#### Adapt sections',
    variant: 'method',
    minimal: (v) => ({ method: v }),
    wrap: (x) => at(['rounds', 'adapt'], x),
    read: (c) => c.rounds.adapt,
  },
  {
    name: 'discriminator',
    table: '#### Adapt sections',
    prefix: 'discriminator.',
    minimal: () => ({}),
    wrap: (x) => at(['warmup', 'adapt', 'discriminator'], x, ADVERSARIAL_WARMUP),
    read: (c) => (c.warmup!.adapt as unknown as { discriminator: Obj }).discriminator,
  },
  { name: 'active', table: '#### `active`', minimal: () => base().active as Obj, wrap: (x) => ({ ...base(), active: x }), read: (c) => c.active },
  {
    name: 'units',
    table: '#### `active`',
    prefix: 'units.',
    variant: 'kind',
    minimal: (v) => ({ kind: v, ...(v === 'superpixel' ? { size: 16 } : {}) }),
    wrap: (x) => at(['active', 'units'], x),
    read: (c) => c.active.units,
  },
  {
    name: 'budget',
    table: '#### `active`',
    prefix: 'budget.',
    variant: 'kind',
    minimal: (v) => ({ kind: v, total: v === 'pixelPercent' ? 5 : 2 }),
    wrap: (x, v) => at(['active', 'budget'], x, v === 'images' ? [[['active', 'units'], { kind: 'image' }]] : []),
    read: (c) => c.active.budget,
  },
  {
    name: 'strategy',
    table: '#### Strategies',
    variant: 'strategy',
    minimal: (v) => ({
      strategy: v,
      ...(v === 'mix'
        ? {
            parts: [
              { share: 0.5, strategy: 'random' },
              { share: 0.5, strategy: 'entropy' },
            ],
          }
        : {}),
    }),
    // What some strategies need: MC-dropout samples (a model with dropout), a domain discriminator (an adversarial warm-up).
    wrap: (x, v) => at(['active', 'strategies'], [x], v === 'bald' ? [[['model'], { kind: 'unet', dropout: 0.1 }]] : v === 'aada' ? ADVERSARIAL_WARMUP : []),
    read: (c) => c.active.strategies[0].config,
  },
  { name: 'annotator', table: '#### `annotator`', variant: 'kind', minimal: (v) => ({ kind: v }), wrap: (x) => at(['annotator'], x), read: (c) => c.annotator },
  { name: 'rounds', table: '#### `rounds`', minimal: () => ({ train: {} }), wrap: (x) => ({ ...base(), rounds: x }), read: (c) => c.rounds },
  {
    name: 'negativeLearning',
    table: '#### `rounds`',
    prefix: 'negativeLearning.',
    minimal: () => ({}),
    wrap: (x) => at(['rounds', 'negativeLearning'], x),
    read: (c) => c.rounds.negativeLearning,
  },
  {
    name: 'labelPropagation',
    table: '#### `rounds`',
    prefix: 'labelPropagation.',
    minimal: () => ({}),
    wrap: (x) => at(['rounds', 'labelPropagation'], x),
    read: (c) => c.rounds.labelPropagation,
  },
  { name: 'eval', table: '#### `eval`', minimal: () => ({}), wrap: (x) => at(['eval'], x), read: (c) => c.eval },
  { name: 'report', table: '#### `report`', minimal: () => ({}), wrap: (x) => at(['report'], x), read: (c) => c.report },
];

interface Row {
  name: string;
  cells: string[];
  line: string;
}

/** The tables of the config reference, by heading. */
function referenceTables(): Map<string, { text: string; rows: Row[] }> {
  const text = section('### The experiment config, field by field');
  const tables = new Map<string, { text: string; rows: Row[] }>();
  let current: { text: string; rows: Row[] } | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('#### ')) {
      current = { text: '', rows: [] };
      tables.set(line.trim(), current);
      continue;
    }
    if (current === null) continue;
    current.text += `${line}\n`;
    if (!line.startsWith('|') || /^\|\s*(field|-)/.test(line)) continue;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const m = /^`([^`]+)`$/.exec(cells[0]);
    assert.ok(m, `a row of the config reference names one field in backticks: ${line}`);
    current.rows.push({ name: m[1], cells, line });
  }
  return tables;
}

function tableOf(tables: ReturnType<typeof referenceTables>, heading: string): { text: string; rows: Row[] } {
  const found = [...tables.entries()].filter(([h]) => h.startsWith(heading));
  assert.equal(found.length, 1, `one README table under '${heading}...'`);
  return found[0][1];
}

test('the experiment config reference: every field the parser accepts, with its enumerations and defaults', () => {
  const tables = referenceTables();
  const documented = new Map<string, Set<string>>(); // table -> row names backed by the parser
  const problems: string[] = [];
  const keysAt = new Map<string, string[]>();
  for (const place of PLACES) {
    const table = tableOf(tables, place.table);
    const prefix = place.prefix ?? '';
    const backed = documented.get(place.table) ?? new Set<string>();
    documented.set(place.table, backed);
    const variants = place.variant === undefined ? [undefined] : allowedValues(refusal(place.wrap({ [place.variant]: PROBE }, PROBE)));
    assert.ok(variants && variants.length > 0, `${place.name}: the parser lists its ${place.variant} values`);
    if (place.variant !== undefined) {
      const row = table.rows.find((r) => r.name === prefix + place.variant);
      assert.ok(row, `${place.name}: a row for ${prefix}${place.variant}`);
      for (const v of variants) if (!row.line.includes(`\`${v}\``)) problems.push(`${place.name}.${place.variant}: the README does not list \`${v}\``);
    }
    const allKeys = new Set<string>();
    for (const v of variants) {
      const minimal = place.minimal(v);
      const parsed = parse(place.wrap(minimal, v)); // the minimal object is valid
      const keys = allowedKeys(refusal(place.wrap({ ...minimal, [PROBE]: 1 }, v)));
      assert.ok(keys, `${place.name}${v ? ` (${v})` : ''}: the parser refuses an unknown key listing the keys it allows`);
      keysAt.set(`${place.name}${v ? `:${v}` : ''}`, keys);
      for (const key of keys) {
        allKeys.add(key);
        const name = prefix + key;
        backed.add(name);
        const row = table.rows.find((r) => r.name === name);
        if (row === undefined) {
          if (!(place.inline && table.text.includes(key)))
            problems.push(`${place.name}${v ? ` (${v})` : ''}: '${name}' is accepted by the parser but not in the README table '${place.table}'`);
          continue;
        }
        if (key === place.variant) continue;
        // Enumerations: every value the parser allows is named in the row.
        const values = allowedValues(refusal(place.wrap({ ...minimal, [key]: PROBE }, v)));
        if (values !== null) {
          for (const value of values)
            if (!new RegExp(`(^|[^\\w.-])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w-])`).test(row.cells.slice(1).join(' | ')))
              problems.push(`${name}: the README row does not name the value ${value}`);
        }
        // Defaults: one value in backticks is what the parser fills in; "required" must be given.
        const cell = row.cells[2];
        const literal = /^`([^`]+)`$/.exec(cell);
        if (literal) {
          const withLiteral = refusal(place.wrap({ ...minimal, [key]: parseYaml(literal[1]) }, v));
          if (withLiteral !== null) problems.push(`${name}${v ? ` (${v})` : ''}: the README default ${cell} is refused by the parser: ${withLiteral}`);
          else if (!isDeepStrictEqual(place.read(parse(place.wrap({ ...minimal, [key]: parseYaml(literal[1]) }, v))), place.read(parsed))) {
            problems.push(
              `${name}${v ? ` (${v})` : ''}: the README default ${cell} is not the parser's (${JSON.stringify((place.read(parsed) as Obj)?.[key])})`,
            );
          }
        } else if (cell === 'required' && key in minimal) {
          const { [key]: _dropped, ...without } = minimal;
          if (refusal(place.wrap(without, v)) === null)
            problems.push(`${name}${v ? ` (${v})` : ''}: the README says required, but the parser accepts it left out`);
        }
      }
    }
    // A variant key written "required": the place without it is refused.
    if (place.variant !== undefined) {
      const row = table.rows.find((r) => r.name === prefix + place.variant)!;
      if (row.cells[2] === 'required' && refusal(place.wrap({}, undefined)) === null)
        problems.push(`${place.name}.${place.variant}: the README says required, but the parser accepts it left out`);
    }
    // "required" rows are required in at least one variant.
    for (const row of table.rows.filter((r) => r.name.startsWith(prefix) && r.cells[2] === 'required')) {
      const key = row.name.slice(prefix.length);
      if (!allKeys.has(key) || key === place.variant) continue;
      const somewhere = variants.some((v) => key in place.minimal(v));
      if (!somewhere) problems.push(`${row.name}: the README says required, but the parser accepts ${place.name} without it`);
    }
  }
  // Shared sections: the same keys wherever they are used.
  assert.deepEqual(keysAt.get('warmup.train'), keysAt.get('source.train'), 'warmup.train is the train section');
  assert.deepEqual(keysAt.get('rounds.train'), keysAt.get('source.train'), 'rounds.train is the train section');
  for (const m of ['adaptsegnet', 'advent-adversarial', 'advent-entropy', 'self-training'])
    assert.deepEqual(keysAt.get(`rounds.adapt:${m}`), keysAt.get(`warmup.adapt:${m}`), `rounds.adapt is the adapt section (${m})`);
  // No stale rows: every row names a field the parser accepts.
  for (const [heading, backed] of documented) {
    for (const row of tableOf(tables, heading).rows) if (!backed.has(row.name)) problems.push(`'${row.name}' in '${heading}' is not accepted by the parser`);
  }
  // Every table of the reference is checked.
  for (const heading of tables.keys())
    if (!PLACES.some((p) => heading.startsWith(p.table))) problems.push(`the README table '${heading}' is not checked by PLACES`);
  assert.deepEqual(problems, []);
});

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

test("the README's example files are valid: meta.json, my-experiment.yaml, my-human-experiment.yaml, my-source.yaml", async () => {
  const meta = await readFolderMeta(join(work, 'data', 'my-dataset'));
  assert.deepEqual(meta.classes.names, ['sky', 'road', 'building', 'vehicle', 'person', 'vegetation']);
  assert.deepEqual(meta.mapping.ignore, [6, 255]);
  const experiment = parseExperimentConfig(parseYaml(namedBlock('yaml', 'my-experiment.yaml')), work);
  assert.equal(experiment.output, join(work, 'runs', 'my-experiment'));
  const human = parseExperimentConfig(humanExperiment(), work);
  assert.equal(human.annotator.kind, 'human');
  assert.deepEqual(
    human.active.strategies.map((s) => s.label),
    ['ripu-region (k=1)'],
    'one strategy: random is not added',
  );
  const source = parseTrainConfig(parseYaml(namedBlock('yaml', 'my-source.yaml')), work);
  assert.equal(source.output, join(work, 'runs', 'my-source'));
});

test('CLI reference: one row per command of the CLI; `adaseg run --help`', async () => {
  const leaves: string[] = [];
  const walk = (c: Command, path: string[]) => {
    if (c.run) leaves.push(path.join(' '));
    for (const s of c.subcommands ?? []) walk(s, [...path, s.name]);
  };
  walk(ROOT, ['adaseg']);
  const rows = [...section('## CLI reference').matchAll(/^\| `(adaseg [^`]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...rows].sort(), [...leaves].sort());
  const help = await cli('npx adaseg run --help');
  ok(help, 'run --help');
  assert.match(help.out, /Usage: adaseg run --config FILE/);
});

test('Benchmarks: every `npm run bench:*` the README names is a script, and every script is named', () => {
  const scripts = Object.keys(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).scripts).filter((s) => s.startsWith('bench:'));
  const named = [...new Set([...README.matchAll(/npm run (bench:\w+)/g)].map((m) => m[1]))];
  assert.deepEqual(named.sort(), scripts.sort());
  assert.ok(existsSync(join(REPO, 'BENCHMARKS.md')));
});

test('bring your own data: `adaseg data inspect` on each layout', async () => {
  const expected: [string, RegExp][] = [
    ['npx adaseg data inspect data/cityscapes --split train', /cityscapes/],
    ['npx adaseg data inspect data/gta5 --split train --classes 16', /gta5/],
    ['npx adaseg data inspect data/synthia --classes 16', /synthia/],
    ['npx adaseg data inspect data/camvid --split val', /camvid/],
    ['npx adaseg data inspect data/my-dataset --split source_train', /my-dataset/],
    ['npx adaseg data inspect synthetic --style target --count 8', /synthetic/],
  ];
  for (const [command, name] of expected) {
    const r = await cli(command);
    ok(r, command);
    assert.match(r.out, name, command);
  }
  // --json: the class list the README gives for GTA5 with --classes 16.
  const gta = await cli('npx adaseg data inspect data/gta5 --split train --classes 16', {}, ['--json']);
  ok(gta, 'gta5 --json');
  assert.equal(JSON.parse(gta.out).dataset.classes.length, 16);
});

test('the demo (its --quick smoke size, into the scratch folder), then `adaseg report` on it', { timeout: 600_000 }, async () => {
  // `npx adaseg demo` is the full demo (minutes); its --quick size runs the same steps, smaller.
  const demo = await cli('npx adaseg demo', {}, ['--quick', '--output', 'adaseg-demo', '--no-progress']);
  ok(demo, 'demo --quick');
  const report = join(work, 'adaseg-demo', 'report.html');
  assert.ok(existsSync(report), 'adaseg-demo/report.html');
  assert.ok(demo.out.includes(report), 'the demo prints the path of report.html');
  const html = readFileSync(report, 'utf8');
  assert.match(html, /<svg[^>]*id="budget-plot"/, 'the budget plot');
  const md = await cli('npx adaseg report --run adaseg-demo');
  ok(md, 'report --run adaseg-demo');
  for (const s of ['| baseline | mIoU |', 'source only', 'UDA only', 'full supervision', 'AUBC', 'labels saved vs random'])
    assert.ok(md.out.includes(s), `the report has '${s}'`);
});

/** my-human-experiment.yaml as the README describes it: my-experiment.yaml with the human block's sections. */
function humanExperiment(): Obj {
  return { ...parseYaml(namedBlock('yaml', 'my-experiment.yaml')), ...parseYaml(namedBlock('yaml', 'my-human-experiment.yaml')) };
}

/** Writes a README yaml example into the scratch folder, made tiny. */
function writeConfig(file: string, raw: Obj, tiny: Obj): void {
  writeFileSync(join(work, file), stringifyYaml(merge(raw, tiny)));
}

test('first experiment: `adaseg run`, Ctrl-C, the same command resumes; `adaseg report`', { timeout: 600_000 }, async () => {
  writeConfig('my-experiment.yaml', parseYaml(namedBlock('yaml', 'my-experiment.yaml')), TINY_EXPERIMENT);
  const output = join(work, 'runs', 'my-experiment');
  // In a terminal: the run starts, Ctrl-C (SIGINT) during source training stops it with a checkpoint.
  const first = spawnCli('npx adaseg run --config my-experiment.yaml');
  const context = () => `\nstderr:\n${first.err.slice(-20).join('\n')}\nstdout:\n${first.out.join('\n')}`;
  await until('source training starts', () => first.err.some((l) => l.includes('source training')) || first.child.exitCode !== null, 120, context);
  first.child.kill('SIGINT');
  assert.equal(await first.exit, 0, `a run stopped by Ctrl-C exits 0${context()}`);
  assert.ok(
    first.out.some((l) => l.includes('stopped; run the same command to resume')),
    `it says how to resume${context()}`,
  );
  assert.ok(!existsSync(join(output, 'results.json')), 'not finished');
  // The same command again: it resumes from the checkpoint and finishes.
  const again = await cli('npx adaseg run --config my-experiment.yaml', {}, ['--no-progress']);
  ok(again, 'the same command');
  assert.match(readFileSync(join(output, 'seed-0', 'source', 'train.jsonl'), 'utf8'), /"event":"resumed"/, 'source training resumed from its checkpoint');
  assert.match(again.out, /done in \d+ s: .*report\.html/);
  for (const f of ['config.json', 'labels.sqlite', 'events.jsonl', 'run.log', 'results.json', 'report.html'])
    assert.ok(existsSync(join(output, f)), `the output folder holds ${f}`);
  const results = JSON.parse(readFileSync(join(output, 'results.json'), 'utf8'));
  assert.deepEqual(results.strategies.map((s: { strategy: string }) => s.strategy).sort(), ['aada', 'bald (T=8)', 'entropy', 'random', 'ripu-region (k=1)']);

  const md = await cli('npx adaseg report --run runs/my-experiment');
  ok(md, 'report');
  assert.match(md.out, /\| strategy \| start \| round 1 \| round 2 \| AUBC \|/);
  const svg = await cli('npx adaseg report --run runs/my-experiment --svg budget.svg');
  ok(svg, 'report --svg');
  assert.match(readFileSync(join(work, 'budget.svg'), 'utf8'), /^<svg/);
});

test(
  'human annotation: `adaseg run` with annotator human, `users add`, `serve`, answers over HTTP, then users and labels commands',
  { timeout: 600_000 },
  async () => {
    const raw = humanExperiment();
    writeConfig('my-human-experiment.yaml', raw, TINY_HUMAN);
    const output = join(work, 'runs', 'my-human-experiment');
    let server: ReturnType<typeof spawnCli> | undefined;
    // Terminal 1: the run; it trains, selects and waits for answers.
    const running = spawnCli('npx adaseg run --config my-human-experiment.yaml');
    const context = () => `\nrun stderr:\n${running.err.slice(-20).join('\n')}${server ? `\nserver stderr:\n${server.err.slice(-10).join('\n')}` : ''}`;
    try {
      await until('the run creates its label store', () => existsSync(join(output, 'labels.sqlite')) || running.child.exitCode !== null, 120, context);
      assert.equal(running.child.exitCode, null, `the run waits for answers${context()}`);
      // Terminal 2: a token, and the server on a free port (8080 may be taken on the test machine).
      const added = await cli('npx adaseg users add alice --role annotator --run runs/my-human-experiment');
      ok(added, 'users add');
      const token = added.out.trim().split('\n').at(-1)!;
      assert.match(token, /^\S{20,}$/, `the token is printed on its own line:\n${added.out}`);
      server = spawnCli('npx adaseg serve --run runs/my-human-experiment --port 8080', { '8080': '0' });
      await until(
        'the server prints its address',
        () => server!.out.some((l) => l.includes('annotation studio on')) || server!.child.exitCode !== null,
        60,
        context,
      );
      const url = /annotation studio on (http:\/\/[^/\s]+)\//.exec(server.out.join('\n'))?.[1];
      assert.ok(url, `the server's address${context()}`);
      const api = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, type: res.headers.get('content-type') ?? '', body: Buffer.from(await res.arrayBuffer()) };
      };
      const page = await api('GET', '/');
      if (existsSync(join(PACKAGE, 'dist', 'web', 'index.html'))) assert.equal(page.status, 200, 'the studio page');
      const me = await api('GET', '/api/me');
      assert.equal(me.status, 200);
      assert.deepEqual(JSON.parse(me.body.toString()), { name: 'alice', role: 'annotator' });
      // The annotator: lease, look at the image, answer one class per region; until the run is done.
      let answered = 0;
      while (running.child.exitCode === null) {
        const lease = await api('POST', '/api/lease', {});
        assert.equal(lease.status, 200, lease.body.toString() + context());
        const q = JSON.parse(lease.body.toString()).query;
        if (q === null) {
          await sleep(100);
          continue;
        }
        if (answered === 0) {
          const image = await api('GET', `/api/queries/${q.id}/image`);
          assert.equal(image.status, 200);
          assert.equal(image.type, 'image/png');
        }
        const answer = await api('POST', `/api/queries/${q.id}/answer`, { classes: q.unitList.map((_: unknown, i: number) => i % 6), seconds: 2 });
        assert.equal(answer.status, 200, answer.body.toString() + context());
        answered++;
      }
      assert.equal(await running.exit, 0, `the run finishes once its queries are answered${context()}`);
      assert.ok(answered > 0);
      assert.ok(existsSync(join(output, 'report.html')));
      server.child.kill('SIGINT');
      assert.equal(await server.exit, 0, 'Ctrl-C stops the server');
      server = undefined;
    } finally {
      if (running.child.exitCode === null) running.child.kill('SIGKILL');
      server?.child.kill('SIGKILL');
    }
    const list = await cli('npx adaseg users list --run runs/my-human-experiment');
    ok(list, 'users list');
    assert.match(list.out, /^alice\tannotator\t/m);
    const exported = await cli('npx adaseg labels export --run runs/my-human-experiment --out my-labels');
    ok(exported, 'labels export');
    assert.ok(existsSync(join(work, 'my-labels', 'manifest.json')));
    assert.ok(readdirSync(join(work, 'my-labels', 'trainid')).some((f) => f.endsWith('_gtFine_labelTrainIds.png')));
    assert.ok(readdirSync(join(work, 'my-labels', 'color')).some((f) => f.endsWith('_gtFine_color.png')));
    const imported = await cli('npx adaseg labels import --run runs/my-human-experiment --from my-labels --annotator alice --dry-run');
    ok(imported, 'labels import --dry-run');
    assert.match(imported.out, /would import .* 0 changed, 0 overwritten \(dry run: nothing written\)/);
    const removed = await cli('npx adaseg users remove alice --run runs/my-human-experiment');
    ok(removed, 'users remove');
    assert.match((await cli('npx adaseg users list --run runs/my-human-experiment')).out, /^no users$/m);
  },
);

/** A python3 with torch and torchvision: Debian's, which setup.sh installs them into (also what `weights convert` uses first), else the PATH's; or null. */
function pythonWithTorch(): string | null {
  for (const exe of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(exe, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
    if (r.status === 0) return exe;
  }
  return null;
}

/** The environment of the README's python3 commands: that python3 first on the PATH. */
function pythonEnv(exe: string): NodeJS.ProcessEnv {
  return exe.includes('/') ? { ...CHILD_ENV, PATH: `${dirname(exe)}:${process.env.PATH ?? ''}` } : CHILD_ENV;
}

test('PyTorch weights: an ImageNet backbone saved, converted, inspected, trained from, evaluated; the printed snippet', { timeout: 600_000 }, async (t) => {
  const python = pythonWithTorch();
  if (python === null) {
    if (process.env.CI) assert.fail('python3 with torch and torchvision is needed (setup.sh installs them)');
    t.skip('no python3 with torch and torchvision');
    for (const c of COMMANDS.keys()) if (COMMANDS.get(c) === 'PyTorch weights') exercised.add(c);
    return;
  }
  let script = namedBlock('python', 'save_backbone.py');
  for (const [from, to] of PYTHON_SUBSTITUTE) {
    assert.ok(script.includes(from), `the README's save_backbone.py has ${from}`);
    script = script.replaceAll(from, to);
  }
  writeFileSync(join(work, 'save_backbone.py'), script);
  const saved = shell('python3 save_backbone.py', work, pythonEnv(python));
  assert.equal(saved.code, 0, saved.err);
  const converted = await cli('npx adaseg weights convert resnet18-backbone.pth resnet18-backbone.safetensors');
  ok(converted, 'weights convert');
  const inspected = await cli('npx adaseg weights inspect resnet18-backbone.safetensors');
  ok(inspected, 'weights inspect');
  assert.match(inspected.out, /^backbone\.conv1\.weight {2}float32 {2}\[64, 3, 7, 7\]$/m);
  assert.ok(!/^fc\./m.test(inspected.out), 'fc.* left out');

  writeConfig('my-source.yaml', parseYaml(namedBlock('yaml', 'my-source.yaml')), TINY_SOURCE);
  const trained = await cli('npx adaseg train --config my-source.yaml --weights resnet18-backbone.safetensors', {}, ['--no-progress']);
  ok(trained, 'train --weights');
  assert.match(trained.err, /loaded 1\d\d tensors from .*resnet18-backbone\.safetensors/, 'the backbone loaded');
  assert.ok(!trained.err.includes('unexpected in the file'), `every tensor of the file is used:\n${trained.err}`);
  assert.match(trained.err, /missing from the file, left as initialised \(\d+\):\n {4}classifier\./, 'only the head is left as initialised');
  const evaluated = await cli('npx adaseg eval --checkpoint runs/my-source data/my-dataset --split target_val');
  ok(evaluated, 'eval');
  assert.match(evaluated.out, /mIoU/);

  // Printed, then run with the Python that has torch: the same conversion.
  const snippet = await cliToFile('npx adaseg weights convert --print-snippet > convert.py');
  ok(snippet, 'weights convert --print-snippet');
  rmSync(join(work, 'resnet18-backbone.safetensors'));
  const byHand = shell('python3 convert.py resnet18-backbone.pth resnet18-backbone.safetensors', work, pythonEnv(python));
  assert.equal(byHand.code, 0, byHand.err);
  assert.match(byHand.out, /\d+ tensors -> resnet18-backbone\.safetensors/);
  assert.equal((await cli('npx adaseg weights inspect resnet18-backbone.safetensors')).out, inspected.out, 'the same tensors');
});

test("GPU: with LIBTORCH, setup.sh skips Debian's libtorch and the build uses that folder (CUDA libraries linked when present); the build-info one-liner", () => {
  // `LIBTORCH=/opt/libtorch ./setup.sh` cannot run here (apt, npm ci): what it changes is checked instead.
  readme('LIBTORCH=/opt/libtorch ./setup.sh');
  const setup = readFileSync(join(REPO, 'setup.sh'), 'utf8');
  assert.match(setup, /if \[ -z "\$\{LIBTORCH:-\}" \]; then\s+packages\+=\(libtorch-dev\)/, 'setup.sh installs libtorch-dev only without LIBTORCH');
  assert.match(setup, /^npm ci\b/m, 'setup.sh builds the addon with npm ci (binding.gyp asks scripts/libtorch.cjs)');
  const gyp = readFileSync(join(REPO, 'packages', 'torch', 'binding.gyp'), 'utf8');
  for (const what of ['include', 'libdir', 'libs', 'cuda'])
    assert.ok(gyp.includes(`scripts/libtorch.cjs ${what}`), `binding.gyp takes ${what} from libtorch.cjs`);
  // A CUDA libtorch's layout (empty files stand for the libraries).
  const fake = join(work, 'opt-libtorch');
  mkdirSync(join(fake, 'include', 'ATen'), { recursive: true });
  mkdirSync(join(fake, 'lib'), { recursive: true });
  for (const f of ['include/ATen/ATen.h', 'lib/libtorch_cpu.so', 'lib/libtorch_cuda.so']) writeFileSync(join(fake, f), '');
  const locate = (what: string, env: NodeJS.ProcessEnv) => {
    const r = spawnSync(process.execPath, [join(REPO, 'packages', 'torch', 'scripts', 'libtorch.cjs'), what], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  assert.equal(locate('libdir', { LIBTORCH: fake }), join(fake, 'lib'));
  assert.equal(locate('cuda', { LIBTORCH: fake }), '1');
  assert.match(locate('libs', { LIBTORCH: fake }), /-ltorch_cuda -lc10_cuda/);
  assert.ok(locate('include', { LIBTORCH: fake }).includes(join(fake, 'include')));
  // LIBTORCH_USE_PYTORCH=1: the libtorch of the python3 torch package (as the README says), when there is one.
  const python = pythonWithTorch();
  if (python !== null) assert.equal(JSON.parse(locate('', { LIBTORCH: '', LIBTORCH_USE_PYTORCH: '1', PYTHON: python })).source, 'python');

  const info = shell('node -e "import(\'@adaseg/torch\').then((t) => console.log(t.buildInfo().builtWithCuda, t.cuda.isAvailable()))"', REPO);
  assert.equal(info.code, 0, info.err);
  assert.match(info.out.trim(), /^(true|false) (true|false)$/);
});

test('development: one test file from its package', { timeout: 300_000 }, () => {
  const r = shell('cd packages/adaseg && node --import tsx --test test/data.formats.test.ts', REPO);
  assert.equal(r.code, 0, r.out.slice(-3000) + r.err);
  assert.match(r.out, /# fail 0/);
});

test('every README command was run (or checked) by a test above', () => {
  const missing = [...COMMANDS.keys()].filter((c) => !exercised.has(c));
  assert.deepEqual(missing, [], 'README commands no test ran (see the tests named in COMMANDS)');
});
