// The CLI's conventions, checked on the whole command tree walked from the router's own list (so a
// new command is checked as soon as it is registered):
//   - `--help` / `-h` / `adaseg help <command>`: exit 0, the usage and every option, no side effects;
//   - usage errors (unknown option, missing required option, option without a value, bad value,
//     unknown command): exit 2, one line naming the option and what was expected, a pointer to
//     --help, never a stack trace;
//   - failures (missing file, bad config, corrupt image, unknown user...): exit 1, the message and no
//     stack trace unless --verbose (accepted anywhere on the line);
//   - --json: one JSON document on stdout, for results and for errors ({"error": {code, message}}).
// Most cases run in-process (run()); a few spawn the real entry point, for what only a process has
// (exit status, stdout/stderr as a pipe sees them, --version).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '@adaseg/torch';
import { LabelStore } from '../src/labels/store.js';
import type { OptionSpec } from '../src/cli/args.js';
import type { Command } from '../src/cli/command.js';
import { ROOT } from '../src/cli/run.js';
import { buildModel } from '../src/models/config.js';
import { makeTinyFolder } from './helpers/data-fixtures.js';
import { cli } from './helpers/cli.js';

torch.setNumThreads(1);

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
/** The real entry point in a child process, as a shell runs it. */
function spawnCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const STACK = /\n\s+at /;

function* commands(cmd: Command, path: string[] = []): Generator<{ cmd: Command; path: string[] }> {
  yield { cmd, path };
  for (const sub of cmd.subcommands ?? []) yield* commands(sub, [...path, sub.name]);
}

const all = [...commands(ROOT)];
const name = (path: string[]) => ['adaseg', ...path].join(' ');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'adaseg-cli-help-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A value the parser accepts for an option (paths point into `sandbox`). */
function valueFor(o: OptionSpec, sandbox: string): string[] {
  if (o.type === 'boolean') return [`--${o.name}`];
  if (o.choices) return [`--${o.name}`, o.choices[0]];
  if (o.type === 'integer') return [`--${o.name}`, '1'];
  return [`--${o.name}`, join(sandbox, o.name)];
}

test('the walk finds every command (a sanity check of the walk itself)', () => {
  const names = all.map((c) => name(c.path));
  for (const n of [
    'adaseg demo',
    'adaseg data inspect',
    'adaseg weights convert',
    'adaseg weights inspect',
    'adaseg train',
    'adaseg eval',
    'adaseg adapt',
    'adaseg run',
    'adaseg report',
    'adaseg serve',
    'adaseg users add',
    'adaseg users list',
    'adaseg users remove',
    'adaseg labels export',
    'adaseg labels import',
    'adaseg help',
  ]) {
    assert.ok(names.includes(n), n);
  }
  for (const { cmd, path } of all) assert.ok(cmd.run !== undefined || (cmd.subcommands?.length ?? 0) > 0, `${name(path)} runs or has subcommands`);
});

for (const { cmd, path } of all) {
  describe(name(path), () => {
    test('--help, -h and `adaseg help`: exit 0, usage, subcommands, every option (required ones marked), nothing on stderr', async () => {
      const outputs: string[] = [];
      for (const args of [
        [...path, '--help'],
        [...path, '-h'],
        ['help', ...path],
        ['--help', ...path],
      ]) {
        const r = await cli(args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
        assert.equal(r.err, '', args.join(' '));
        outputs.push(r.out);
      }
      assert.ok(
        outputs.every((o) => o === outputs[0]),
        'the four ways give the same help',
      );
      const out = outputs[0];
      assert.ok(cmd.usage.startsWith(name(path)), `usage starts with the command: ${cmd.usage}`);
      assert.ok(out.includes(`Usage: ${cmd.usage.split('\n')[0]}`), out);
      for (const sub of cmd.subcommands ?? []) assert.match(out, new RegExp(`\\n  ${sub.name} +${escape(sub.summary.slice(0, 30))}`));
      const lines = out.split('\n');
      for (const o of [...(cmd.options ?? []), { name: 'help', required: false }, { name: 'json', required: false }, { name: 'verbose', required: false }]) {
        const line = lines.find((l) => new RegExp(`^  --${escape(o.name)}( |$)`).test(l));
        assert.ok(line !== undefined, `--${o.name} in ${name(path)} --help`);
        assert.equal(line.endsWith('(required)'), Boolean(o.required), `--${o.name} marked required iff it is: ${line}`);
      }
    });

    test('an unknown option: exit 2, one line naming it, a pointer to --help, no stack; a JSON error with --json', async () => {
      const r = await cli([...path, '--no-such-option']);
      assert.equal(r.code, 2, r.err);
      assert.equal(r.out, '');
      assert.match(r.err, /unknown option --no-such-option/);
      assert.ok(r.err.includes(`${name(path)} --help`), r.err);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.doesNotMatch(r.err, STACK);
      const json = await cli([...path, '--no-such-option=1', '--json']);
      assert.equal(json.code, 2);
      assert.deepEqual(JSON.parse(json.out).error.code, 'usage');
    });

    if (cmd.subcommands) {
      test('a group: no command or an unknown one is a usage error', async () => {
        const none = await cli(path);
        assert.equal(none.code, 2);
        assert.match(none.err, /Usage: /, 'the help, on stderr');
        assert.match(none.err, /a command is needed/);
        assert.equal(none.out, '');
        const unknown = await cli([...path, 'no-such-command']);
        assert.equal(unknown.code, 2);
        assert.match(unknown.err, /unknown command 'no-such-command'/);
        const viaHelp = await cli(['help', ...path, 'no-such-command']);
        assert.equal(viaHelp.code, 2);
        assert.match(viaHelp.err, /unknown command 'no-such-command'/);
      });
    }

    if (cmd.run) {
      test('every option the help lists is accepted (the error is about the next, unknown one)', async () => {
        for (const o of cmd.options ?? []) {
          const r = await cli([...path, ...valueFor(o, join(dir, 'never')), '--no-such-option']);
          assert.equal(r.code, 2, `--${o.name}: ${r.err}`);
          assert.match(r.err, /unknown option --no-such-option/, `--${o.name} is accepted by ${name(path)}`);
        }
      });

      test('--help with every option given has no side effects', async () => {
        const sandbox = join(dir, `help-${path.join('-')}`);
        mkdirSync(sandbox);
        const args = [...path, ...(cmd.options ?? []).flatMap((o) => valueFor(o, sandbox)), '--help'];
        const r = await cli(args);
        assert.equal(r.code, 0, r.err);
        assert.deepEqual(readdirSync(sandbox), [], `${args.join(' ')} wrote nothing`);
      });

      const valued = (cmd.options ?? []).filter((o) => o.type !== 'boolean');
      if (valued.length > 0) {
        test('an option without its value, or with an empty or bad one: exit 2 naming the option', async () => {
          const required = (cmd.options ?? []).filter((o) => o.required);
          for (const o of valued) {
            const others = required.filter((x) => x !== o).flatMap((x) => valueFor(x, join(dir, 'never')));
            for (const bad of [[`--${o.name}`], [`--${o.name}=`], [`--${o.name}`, '--json']]) {
              const r = await cli([...path, ...others, ...bad]);
              assert.equal(r.code, 2, `${bad.join(' ')}: ${r.err}`);
              assert.match(r.err, new RegExp(`--${escape(o.name)} needs a value`), r.err);
              assert.doesNotMatch(r.err, STACK);
            }
            if (o.type === 'integer' || o.choices) {
              for (const value of o.type === 'integer' ? ['abc', '-1', '1.5', '1e3'] : ['no-such-choice']) {
                const r = await cli([...path, ...others, `--${o.name}`, value]);
                assert.equal(r.code, 2, `--${o.name} ${value}: ${r.err}`);
                assert.match(
                  r.err,
                  new RegExp(
                    `--${escape(o.name)} must be ${o.type === 'integer' ? 'a non-negative integer' : `one of ${escape(o.choices!.join(', '))}`}, got '${escape(value)}'`,
                  ),
                );
              }
            }
          }
        });
      }
    }

    const required = (cmd.options ?? []).filter((o) => o.required);
    if (required.length > 0) {
      test(`a missing required option (${required.map((o) => `--${o.name}`).join(', ')}): exit 2, named with its value`, async () => {
        for (const missing of required) {
          // Every other required option given, so the message is about this one.
          const others = required.filter((o) => o !== missing).flatMap((o) => valueFor(o, join(dir, 'never')));
          const r = await cli([...path, ...others]);
          assert.equal(r.code, 2, r.err);
          assert.match(r.err, new RegExp(`--${missing.name}${missing.value ? ` ${missing.value}` : ''} is required`));
          assert.doesNotMatch(r.err, STACK);
        }
      });
    }
  });
}

test('global flags anywhere: before the command words too', async () => {
  const nowhere = join(dir, 'nowhere');
  const verbose = await cli(['--verbose', 'data', 'inspect', nowhere]);
  assert.equal(verbose.code, 1, verbose.err);
  assert.match(verbose.err, STACK);
  const json = await cli(['--json', 'data', '--verbose', 'inspect', nowhere]);
  assert.equal(json.code, 1);
  assert.equal(JSON.parse(json.out).error.code, 'not-found');
  assert.match(json.err, STACK);
  const help = await cli(['-h', 'users', 'add']);
  assert.equal(help.code, 0);
  assert.match(help.out, /^Usage: adaseg users add NAME/m);
});

test('a bad user name is a usage error (exit 2), found before any run folder is opened', async () => {
  const r = await cli(['users', 'add', 'bad name!', '--run', join(dir, 'nowhere')]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /adaseg users add: user name 'bad name!' must be 1-64 letters/);
});

test('a typo gets a suggestion', async () => {
  assert.match((await cli(['trian'])).err, /unknown command 'trian' for adaseg; did you mean train\?/);
  assert.match((await cli(['users', 'lst'])).err, /did you mean list\?/);
  assert.match((await cli(['train', '--confg', 'x'])).err, /unknown option --confg; did you mean --config\?/);
  assert.match((await cli(['train', '--out', 'x'])).err, /did you mean --output\?/);
  assert.doesNotMatch((await cli(['train', '--zzzzzz'])).err, /did you mean/);
});

test('--version: the package version; {"version"} with --json; adaseg help lists the commands', async () => {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
  const r = await cli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.out.trim(), pkg.version);
  assert.deepEqual(JSON.parse((await cli(['--version', '--json'])).out), { version: pkg.version });
  assert.equal((await cli(['--version', 'extra'])).code, 2);
  const help = await cli(['help']);
  assert.equal(help.code, 0);
  for (const c of ROOT.subcommands!) assert.match(help.out, new RegExp(`\\n  ${c.name} `));
  assert.match(help.out, /\n {2}help +the help of a command/);
  assert.match(help.out, /Exit codes: 0 ok, 1 failure .*, 2 usage error/);
  assert.equal((await cli(['help', 'train', 'x'])).code, 2);
  assert.equal((await cli(['help', '--bogus'])).code, 2);
});

test('bad values of specific options are usage errors naming the option', async () => {
  const cases: [string[], RegExp][] = [
    [['eval', '--checkpoint', join(dir, 'x'), 'synthetic', '--model', '{kind'], /--model must be a model config in JSON/],
    [['eval', '--checkpoint', join(dir, 'x'), 'synthetic', '--model', '{"kind":"resnet"}'], /--model: model config: 'kind' must be one of/],
    [['data', 'inspect', 'synthetic', '--size', 'big'], /--size must look like 128x96, got 'big'/],
    [['run', '--config', join(dir, 'x'), '--seeds', '1,a'], /--seeds must be comma-separated non-negative integers/],
    [['run', '--config', join(dir, 'x'), '--threads', '0'], /--threads must be >= 1/],
    [['serve', '--run', dir, '--port', '70000'], /--port must be a port number \(0-65535\), got 70000/],
    [['serve', '--run', dir, '--lease-seconds', '0'], /--lease-seconds must be >= 1/],
    [['labels', 'import', '--run', dir, '--from', dir, '--annotator', 'a b'], /--annotator must be 1-64 letters/],
    [['weights', 'convert', '--print-snippet', 'in.pth'], /--print-snippet takes no IN\.pth/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message, args.join(' '));
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /--help/);
  }
});

test('--threads on every command that trains or evaluates: a positive integer, set before any work', async () => {
  for (const command of ['train', 'eval', 'adapt', 'run', 'demo']) {
    const cmd = ROOT.subcommands!.find((c) => c.name === command)!;
    assert.ok(
      cmd.options?.some((o) => o.name === 'threads'),
      `${command} has --threads`,
    );
    const r = await cli([command, '--threads', '0']);
    assert.equal(r.code, 2, `${command}: ${r.err}`);
    assert.match(r.err, /--threads must be >= 1/);
  }
  // Set before the command does anything: even a train whose config is missing has set it.
  const before = torch.getNumThreads();
  try {
    const r = await cli(['train', '--config', join(dir, 'nowhere.yaml'), '--threads', '2']);
    assert.equal(r.code, 1, r.err);
    assert.equal(torch.getNumThreads(), 2);
  } finally {
    torch.setNumThreads(before);
  }
});

test('missing arguments (positionals) are usage errors too', async () => {
  const cases: [string[], RegExp][] = [
    [['data', 'inspect'], /which dataset\?/],
    [['eval', '--checkpoint', join(dir, 'x')], /which dataset\?/],
    [['eval', '--checkpoint', join(dir, 'x'), 'a', 'b'], /one dataset at a time/],
    [['weights', 'convert', 'only-one.pth'], /give IN\.pth and OUT\.safetensors/],
    [['weights', 'inspect'], /give one safetensors file/],
    [['users', 'add', '--run', dir], /expected one user NAME/],
    [['users', 'remove', '--run', dir], /expected one user NAME/],
    [['users', 'list', '--run', dir, 'extra'], /unexpected argument 'extra'/],
    [['run', '--config', join(dir, 'x'), 'extra'], /unexpected argument 'extra'/],
    [['report', '--run', dir, 'extra'], /unexpected argument 'extra'/],
    [['labels', 'export', '--run', dir, '--out', dir, 'extra'], /unexpected argument 'extra'/],
    [['demo', 'extra'], /unexpected argument 'extra'/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
    assert.doesNotMatch(r.err, STACK);
  }
});

test('failures exit 1 with a message and no stack; --verbose adds the stack; --json gives {"error": {code, message}}', async () => {
  const nowhere = join(dir, 'nowhere');
  const bad = join(dir, 'bad-config');
  mkdirSync(bad);
  writeFileSync(join(bad, 'syntax.yaml'), 'model: {kind: unet\n data: [');
  writeFileSync(
    join(bad, 'field.yaml'),
    'model: { kind: unet }\ndata: { train: { format: synthetic, style: source, count: 2, width: 16, height: 16 } }\ntrain: { iterations: -5 }\n',
  );
  // A dataset whose only image is not an image.
  const corrupt = await makeTinyFolder(dir, 'corrupt');
  writeFileSync(join(corrupt, 'images', 'a.png'), 'not a png');
  writeFileSync(
    join(bad, 'corrupt.yaml'),
    JSON.stringify({
      output: join(dir, 'corrupt-run'),
      model: { kind: 'unet', baseWidth: 2, depth: 1 },
      data: { train: { format: 'folder', root: corrupt }, val: [], batchSize: 1, workers: 0 },
      train: { iterations: 1, optimizer: { kind: 'adam', lr: 0.01 } },
    }),
  );
  // A run folder with a label store but no results, users or labels.
  const store = join(dir, 'store');
  mkdirSync(store);
  LabelStore.open(join(store, 'labels.sqlite')).close();
  writeFileSync(join(dir, 'results.json'), '{');
  // Weights of a U-Net of width 2, evaluated as one of width 3: every tensor mismatches.
  const unet = join(dir, 'unet2.safetensors');
  const model = buildModel({ kind: 'unet', baseWidth: 2, depth: 1 }, 6);
  torch.tidy(() => torch.saveSafetensorsSync(unet, model.stateDict()));
  model.dispose();
  const cases: [string[], string, RegExp][] = [
    [['train', '--config', join(nowhere, 'train.yaml')], 'not-found', /cannot read config .*train\.yaml: file not found/],
    [['train', '--config', join(bad, 'syntax.yaml')], 'config', /is not valid YAML\/JSON/],
    [['train', '--config', join(bad, 'field.yaml')], 'config', /config\.train\.iterations/],
    [['train', '--config', join(bad, 'corrupt.yaml'), '--no-progress'], 'unreadable', /cannot decode image .*a\.png/],
    [['adapt', '--config', join(nowhere, 'adapt.yaml')], 'not-found', /file not found/],
    [['run', '--config', join(nowhere, 'experiment.yaml')], 'not-found', /file not found/],
    [['eval', '--checkpoint', nowhere, 'synthetic', '--count', '1'], 'not-found', /checkpoint .*nowhere does not exist/],
    [
      ['eval', '--checkpoint', unet, '--model', '{"kind":"unet","baseWidth":3,"depth":1}', 'synthetic', '--count', '1', '--size', '16x16'],
      'error',
      /size mismatch for 31 tensor\(s\)/,
    ],
    [['data', 'inspect', nowhere], 'not-found', /dataset folder .*nowhere does not exist/],
    [['weights', 'inspect', join(nowhere, 'w.safetensors')], 'not-found', /weights file .*w\.safetensors does not exist/],
    [['weights', 'inspect', join(bad, 'syntax.yaml')], 'unreadable', /safetensors: .*syntax\.yaml/],
    [['weights', 'convert', join(nowhere, 'in.pth'), join(dir, 'out.safetensors')], 'not-found', /input .*in\.pth does not exist/],
    [['serve', '--run', nowhere], 'not-found', /has no labels\.sqlite/],
    [['users', 'list', '--run', nowhere], 'not-found', /has no labels\.sqlite/],
    [['users', 'remove', 'nobody', '--run', store], 'not-found', /no user 'nobody'/],
    [['report', '--run', nowhere], 'not-found', /run folder .*nowhere does not exist/],
    [['report', '--run', store], 'not-found', /results\.json not found/],
    [['report', '--run', dir], 'invalid', /results\.json is not valid JSON/],
    [['labels', 'export', '--run', nowhere, '--out', join(dir, 'masks')], 'not-found', /has no labels\.sqlite/],
    [['labels', 'import', '--run', nowhere, '--from', dir], 'not-found', /has no labels\.sqlite/],
  ];
  for (const [args, code, message] of cases) {
    const what = args.join(' ');
    const r = await cli(args);
    assert.equal(r.code, 1, `${what}: ${r.err}`);
    assert.match(r.err, new RegExp(`^adaseg ${args[0]}( [a-z]+)?: error: `), what);
    assert.match(r.err, message, what);
    assert.doesNotMatch(r.err, STACK, what);
    assert.equal(r.out, '', what);
    assert.ok(r.err.trim().split('\n').length <= 20, `${what}: a long message is cut`);
    const verbose = await cli([...args, '--verbose']);
    assert.equal(verbose.code, 1);
    assert.match(verbose.err, STACK, `${what} --verbose`);
    const json = await cli([...args, '--json']);
    assert.equal(json.code, 1);
    const error = (JSON.parse(json.out) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, code, what);
    assert.match(error.message, message, what);
  }
});

test('an error raised inside libtorch gets the same treatment: one clean line, code engine, the stack only with --verbose', async () => {
  // A command registered for this test only, whose op fails in the engine (mismatched matmul).
  const probe: Command = {
    name: 'engine-probe',
    summary: 'test only',
    usage: 'adaseg engine-probe',
    async run() {
      torch.tidy(() => torch.matmul(torch.zeros([2, 3]), torch.zeros([4, 5])));
      return 0;
    },
  };
  ROOT.subcommands!.push(probe);
  try {
    const r = await cli(['engine-probe']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^adaseg engine-probe: error: matmul: .*\(2x3 and 4x5\)\n$/);
    const json = await cli(['engine-probe', '--json']);
    assert.deepEqual(JSON.parse(json.out).error.code, 'engine');
    assert.equal(JSON.parse(json.out).error.op, 'matmul');
    assert.match((await cli(['engine-probe', '--verbose'])).err, STACK);
  } finally {
    ROOT.subcommands!.splice(ROOT.subcommands!.indexOf(probe), 1);
  }
});

test('--json outputs are one JSON document on stdout (logs stay on stderr)', async () => {
  const runDir = join(dir, 'json-run');
  mkdirSync(runDir);
  LabelStore.open(join(runDir, 'labels.sqlite')).close();
  const weights = join(dir, 'w.safetensors');
  torch.tidy(() => torch.saveSafetensorsSync(weights, { 'a.weight': torch.zeros([2, 3]), b: torch.ones([4]) }));
  const cases: [string[], (v: any) => void][] = [
    [['data', 'inspect', 'synthetic', '--count', '2', '--size', '16x8'], (v) => assert.equal(v.counts.samples, 2)],
    [['weights', 'inspect', weights], (v) => assert.deepEqual(v.tensors['a.weight'].shape, [2, 3])],
    [['weights', 'convert', '--print-snippet'], (v) => assert.match(v.snippet, /import .*torch/)],
    [['users', 'add', 'ada', '--run', runDir], (v) => assert.deepEqual([v.name, v.role, typeof v.token], ['ada', 'annotator', 'string'])],
    [
      ['users', 'list', '--run', runDir],
      (v) =>
        assert.deepEqual(
          v.users.map((u: { name: string }) => u.name),
          ['ada'],
        ),
    ],
    [['users', 'remove', 'ada', '--run', runDir], (v) => assert.deepEqual(v, { removed: 'ada' })],
    [['--version'], (v) => assert.equal(typeof v.version, 'string')],
  ];
  for (const [args, check] of cases) {
    const r = await cli([...args, '--json']);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
    check(JSON.parse(r.out));
  }
  // Without --json, text.
  const text = await cli(['weights', 'inspect', weights]);
  assert.match(text.out, /^a\.weight {2}float32 {2}\[2, 3\]$/m);
});

test('the real entry point: exit statuses, stdout holds only JSON, stacks only with --verbose', () => {
  const nowhere = join(dir, 'nowhere');
  const ok = spawnCli(['data', 'inspect', 'synthetic', '--count', '2', '--size', '16x8', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).counts.samples, 2);
  const usage = spawnCli(['eval', '--bogus', '--json']);
  assert.equal(usage.code, 2);
  assert.equal(JSON.parse(usage.stdout).error.code, 'usage');
  assert.match(usage.stderr, /^adaseg eval: unknown option --bogus \(see adaseg eval --help\)\n$/);
  const failed = spawnCli(['eval', '--checkpoint', nowhere, 'synthetic', '--json']);
  assert.equal(failed.code, 1);
  assert.equal(JSON.parse(failed.stdout).error.code, 'not-found');
  assert.match(failed.stderr, /^adaseg eval: error: checkpoint .*nowhere does not exist\n$/);
  const verbose = spawnCli(['--verbose', 'eval', '--checkpoint', nowhere, 'synthetic']);
  assert.equal(verbose.code, 1);
  assert.equal(verbose.stdout, '');
  assert.match(verbose.stderr, STACK);
});

describe('the installed command', () => {
  test("package.json's bin is a committed launcher outside dist/ (npm ci links it before the build), and it runs the CLI", () => {
    const pkgDir = join(fileURLToPath(new URL('.', import.meta.url)), '..');
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const bin = pkg.bin.adaseg;
    assert.ok(!bin.startsWith('dist/'), `bin ${bin} must not be a build output`);
    const file = join(pkgDir, bin);
    assert.match(readFileSync(file, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    assert.ok((statSync(file).mode & 0o111) !== 0, `${bin} is executable`);
    const lock = JSON.parse(readFileSync(join(pkgDir, '..', '..', 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { bin?: Record<string, string> }>;
    };
    assert.deepEqual(lock.packages['packages/adaseg'].bin, pkg.bin, 'package-lock.json agrees (npm ci links from it)');
    const r = spawnSync(process.execPath, [file, '--version'], { encoding: 'utf8' });
    if (existsSync(join(pkgDir, 'dist', 'cli', 'main.js'))) {
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^\d+\.\d+\.\d+/);
    } else {
      assert.equal(r.status, 1);
      assert.match(r.stderr, /not built yet: run `npm run build`/);
    }
  });
});
