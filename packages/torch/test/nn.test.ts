import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/index.js';
import { closeness, fromJson, SmallCNN, type TensorJson } from './helpers/small_cnn.js';

const { nn } = torch;
const fixture = JSON.parse(readFileSync(new URL('./fixtures/nn/small_cnn.json', import.meta.url), 'utf8')) as {
  parameter_names: string[];
  state_dict_keys: string[];
  initial: Record<string, TensorJson>;
  x: TensorJson;
  y: TensorJson;
  eval_output: TensorJson;
};

test("parameter and state-dict names are PyTorch's", () => {
  const model = new SmallCNN();
  assert.deepEqual(
    model.namedParameters().map(([n]) => n),
    fixture.parameter_names,
  );
  torch.tidy(() => assert.deepEqual(Object.keys(model.stateDict()), fixture.state_dict_keys));
  model.dispose();
});

test('after manualSeed(0) the layers hold exactly the weights PyTorch initialises', () => {
  torch.manualSeed(0);
  const model = new SmallCNN();
  torch.tidy(() => {
    const sd = model.stateDict();
    for (const [k, expected] of Object.entries(fixture.initial)) {
      assert.ok(closeness(sd[k], expected, 0, 0) === 0, `${k} differs from PyTorch's initial value`);
    }
  });
  model.dispose();
});

test('eval forward matches PyTorch', () => {
  const model = new SmallCNN();
  torch.tidy(() => {
    model.loadStateDict(Object.fromEntries(Object.entries(fixture.initial).map(([k, v]) => [k, fromJson(v)])));
    model.eval();
    const out = torch.noGrad(() => model.forward(fromJson(fixture.x)));
    assert.deepEqual(out.shape, fixture.eval_output.shape);
    assert.ok(closeness(out, fixture.eval_output, 1e-5, 1e-6) <= 1);
  });
  model.dispose();
});

test('loadStateDict reports missing and unexpected keys and lists every shape mismatch', () => {
  const model = new SmallCNN();
  torch.tidy(() => {
    const sd = model.stateDict();
    delete sd['head.bias'];
    sd['extra.weight'] = torch.zeros([1]);
    const loose = model.loadStateDict(sd, { strict: false });
    assert.deepEqual(loose.missingKeys, ['head.bias']);
    assert.deepEqual(loose.unexpectedKeys, ['extra.weight']);
    assert.throws(
      () => model.loadStateDict(sd),
      (e: unknown) => e instanceof nn.StateDictError && /missing key\(s\): head\.bias/.test(e.message) && /unexpected key\(s\): extra\.weight/.test(e.message),
    );
    const wrong = model.stateDict();
    wrong['enc1.0.weight'] = torch.zeros([8, 3, 5, 5]);
    wrong['head.weight'] = torch.zeros([4, 9, 1, 1]);
    const before = model.stateDict()['enc2.0.weight'].clone();
    assert.throws(
      () => model.loadStateDict(wrong, { strict: false }),
      (e: unknown) =>
        e instanceof nn.StateDictError &&
        e.shapeMismatches.length === 2 &&
        /enc1\.0\.weight: checkpoint has \[8, 3, 5, 5\], model has \[8, 3, 3, 3\]/.test(e.message) &&
        /head\.weight/.test(e.message),
    );
    // Nothing was copied when the load failed.
    assert.ok(closeness(model.stateDict()['enc2.0.weight'], before, 0, 0) === 0);
  });
  model.dispose();
});

test('train/eval, zeroGrad, apply, children and modules', () => {
  const model = new SmallCNN();
  model.eval();
  assert.ok(model.modules().every((m) => !m.training));
  model.train();
  assert.ok(model.modules().every((m) => m.training));
  assert.deepEqual(model.children().length, 7);
  let convs = 0;
  model.apply((m) => {
    if (m instanceof nn.Conv2d) convs++;
  });
  assert.equal(convs, 4);
  torch.tidy(() => {
    const loss = torch.functional.crossEntropy(model.forward(fromJson(fixture.x)), fromJson(fixture.y).long(), { ignoreIndex: 255 });
    loss.backward();
  });
  assert.ok(model.parameters().every((p) => p.grad !== null));
  model.zeroGrad(false);
  assert.ok(model.parameters().every((p) => torch.tidy(() => p.grad!.abs().sum().item()) === 0));
  model.zeroGrad();
  assert.ok(model.parameters().every((p) => p.grad === null));
  model.dispose();
});

test('BatchNorm2d: running statistics, eval mode, momentum null, frozen mode', () => {
  torch.tidy(() => {
    const bn = new nn.BatchNorm2d({ numFeatures: 2 });
    const x = torch.randn([4, 2, 3, 3]).mul(3).add(1);
    bn.forward(x);
    const mean = x.mean([0, 2, 3]);
    // running = 0.9 * 0 + 0.1 * batch mean
    assert.ok(closeness(bn.runningMean!, mean.mul(0.1), 1e-5, 1e-6) <= 1);
    assert.equal(bn.getBuffer('num_batches_tracked')!.item(), 1);
    bn.eval();
    const y = bn.forward(x);
    const expected = x.sub(bn.runningMean!.view(1, 2, 1, 1)).div(bn.runningVar!.view(1, 2, 1, 1).add(1e-5).sqrt());
    assert.ok(closeness(y, expected, 1e-5, 1e-5) <= 1);

    const cumulative = new nn.BatchNorm2d({ numFeatures: 2, momentum: null });
    cumulative.forward(x);
    cumulative.forward(x.mul(2));
    // cumulative average of the two batch means
    assert.ok(closeness(cumulative.runningMean!, mean.mul(1.5), 1e-5, 1e-6) <= 1);

    const frozen = new nn.BatchNorm2d({ numFeatures: 2 }).freeze();
    frozen.train();
    const before = frozen.runningMean!.clone();
    const out = frozen.forward(x);
    assert.ok(closeness(frozen.runningMean!, before, 0, 0) === 0, 'frozen BN must not update statistics');
    assert.ok(closeness(out, x.div(Math.sqrt(1 + 1e-5)), 1e-5, 1e-6) <= 1);
    assert.ok(frozen.parameters().every((p) => !p.requiresGrad));
    for (const m of [bn, cumulative, frozen]) m.dispose();
  });
});

test('Dropout: identity in eval, active in eval with mcDropout', () => {
  torch.tidy(() => {
    const d = new nn.Dropout({ p: 0.5 });
    const x = torch.ones([1000]);
    d.eval();
    assert.equal(d.forward(x).sum().item(), 1000);
    d.mcDropout = true;
    const y = d.forward(x);
    const zeros = y.eq(0).sum().item() as number;
    assert.ok(zeros > 350 && zeros < 650, `about half zeroed, got ${zeros}`);
    assert.ok(closeness(y.maskedSelect(y.ne(0)), torch.full([1000 - zeros], 2), 0, 1e-6) <= 1, 'kept values are scaled by 1/(1-p)');
  });
});

test('Linear, ConvTranspose2d, GroupNorm shapes and PyTorch init bounds', () => {
  torch.tidy(() => {
    const lin = new nn.Linear({ inFeatures: 16, outFeatures: 4 });
    assert.deepEqual(lin.forward(torch.randn([3, 16])).shape, [3, 4]);
    const bound = 1 / Math.sqrt(16);
    assert.ok((lin.weight.abs().max().item() as number) <= bound);
    const up = new nn.ConvTranspose2d({ inChannels: 4, outChannels: 2, kernelSize: 2, stride: 2 });
    assert.deepEqual(up.weight.shape, [4, 2, 2, 2]);
    assert.deepEqual(up.forward(torch.randn([1, 4, 5, 5])).shape, [1, 2, 10, 10]);
    const gn = new nn.GroupNorm({ numGroups: 2, numChannels: 4 });
    const y = gn.forward(torch.randn([2, 4, 3, 3]));
    assert.ok(Math.abs(y.mean().item() as number) < 1e-5);
    for (const m of [lin, up, gn]) m.dispose();
  });
  assert.throws(() => new nn.Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, groups: 2 }), /divisible by groups/);
  assert.throws(() => new nn.Linear({ inFeatures: 0, outFeatures: 4 }), /inFeatures must be a positive integer/);
});

test('Sequential frees intermediates; ModuleList and ModuleDict name their modules', () => {
  const seq = new nn.Sequential(
    new nn.Conv2d({ inChannels: 1, outChannels: 2, kernelSize: 3 }),
    new nn.ReLU(),
    new nn.Conv2d({ inChannels: 2, outChannels: 2, kernelSize: 3 }),
  );
  const x = torch.randn([1, 1, 8, 8]);
  const before = torch.memory().tensors;
  const y = seq.forward(x);
  assert.equal(torch.memory().tensors, before + 1, 'only the output handle remains');
  y.dispose();
  assert.deepEqual(
    seq.namedParameters().map(([n]) => n),
    ['0.weight', '0.bias', '2.weight', '2.bias'],
  );
  const list = new nn.ModuleList([new nn.Linear({ inFeatures: 2, outFeatures: 2 }), new nn.Linear({ inFeatures: 2, outFeatures: 2, bias: false })]);
  assert.deepEqual(
    list.namedParameters().map(([n]) => n),
    ['0.weight', '0.bias', '1.weight'],
  );
  const dict = new nn.ModuleDict({ a: new nn.Identity(), b: new nn.Linear({ inFeatures: 1, outFeatures: 1 }) });
  assert.deepEqual(
    dict.namedParameters().map(([n]) => n),
    ['b.weight', 'b.bias'],
  );
  for (const m of [seq, list, dict]) m.dispose();
  x.dispose();
});

test('to(dtype) converts floating parameters and buffers, keeps int buffers', () => {
  const bn = new nn.BatchNorm2d({ numFeatures: 3 }).to('float64');
  assert.equal(bn.weight!.dtype, 'float64');
  assert.ok(bn.weight!.requiresGrad);
  assert.equal(bn.runningMean!.dtype, 'float64');
  assert.equal(bn.getBuffer('num_batches_tracked')!.dtype, 'int64');
  const conv = new nn.Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3 }).to({ memoryFormat: 'channels_last' });
  assert.ok(conv.weight.isContiguous('channels_last'));
  bn.dispose();
  conv.dispose();
});

test('modules leave no tensors behind once disposed', () => {
  const start = torch.memory().tensors;
  const model = new SmallCNN();
  torch.tidy(() => {
    model.forward(torch.randn([1, 3, 8, 8]));
  });
  model.dispose();
  assert.equal(torch.memory().tensors, start);
});

const training = JSON.parse(readFileSync(new URL('./fixtures/nn/small_cnn.json', import.meta.url), 'utf8')) as Record<
  'sgd' | 'adam',
  { losses: number[]; final: Record<string, TensorJson> }
>;

for (const which of ['sgd', 'adam'] as const) {
  test(`20 training steps with ${which === 'sgd' ? 'SGD (momentum, weight decay)' : 'Adam'} give PyTorch's losses and weights`, () => {
    const model = new SmallCNN();
    torch.tidy(() => {
      model.loadStateDict(Object.fromEntries(Object.entries(fixture.initial).map(([k, v]) => [k, fromJson(v)])));
    });
    model.train();
    const opt =
      which === 'sgd'
        ? new torch.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 })
        : new torch.optim.Adam(model.parameters(), { lr: 1e-3 });
    const x = fromJson(fixture.x);
    const y = fromJson(fixture.y).long();
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) {
      torch.tidy(() => {
        opt.zeroGrad();
        const loss = torch.functional.crossEntropy(model.forward(x), y, { ignoreIndex: 255 });
        loss.backward();
        opt.step();
        losses.push(loss.item() as number);
      });
    }
    const expected = training[which];
    losses.forEach((l, i) =>
      assert.ok(Math.abs(l - expected.losses[i]) <= 1e-4 * Math.max(1, Math.abs(expected.losses[i])), `step ${i}: loss ${l} vs PyTorch ${expected.losses[i]}`),
    );
    torch.tidy(() => {
      const sd = model.stateDict();
      for (const [k, v] of Object.entries(expected.final)) {
        assert.ok(closeness(sd[k], v, 1e-4, 1e-5) <= 1, `${k} after 20 steps differs from PyTorch beyond 1e-4`);
      }
    });
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  });
}

test("weights written by PyTorch (safetensors) load here and give PyTorch's outputs", () => {
  const fx = JSON.parse(readFileSync(new URL('./fixtures/nn/small_cnn.json', import.meta.url), 'utf8')) as { roundtrip_output: TensorJson; x: TensorJson };
  const model = new SmallCNN();
  torch.tidy(() => {
    const result = model.loadStateDict(torch.loadSafetensorsSync(fileURLToPath(new URL('./fixtures/nn/small_cnn_from_pytorch.safetensors', import.meta.url))));
    assert.deepEqual(result, { missingKeys: [], unexpectedKeys: [] });
    model.eval();
    const out = torch.noGrad(() => model.forward(fromJson(fx.x)));
    assert.ok(closeness(out, fx.roundtrip_output, 1e-5, 1e-5) <= 1);
  });
  model.dispose();
});

const python = '/usr/bin/python3';
const hasTorch = existsSync(python) && spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

test('weights written here load in PyTorch and give our outputs', { skip: hasTorch ? false : 'needs /usr/bin/python3 with torch' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-nn-'));
  const model = new SmallCNN();
  try {
    torch.manualSeed(7);
    const trained = new SmallCNN(); // fresh random weights, also in the BN statistics after one step
    torch.tidy(() => {
      trained.train();
      trained.forward(fromJson(fixture.x));
      const file = join(dir, 'ours.safetensors');
      torch.saveSafetensorsSync(file, trained.stateDict());
      writeFileSync(join(dir, 'x.json'), JSON.stringify(fixture.x));
      trained.eval();
      const ours = torch.noGrad(() => trained.forward(fromJson(fixture.x)));
      const r = spawnSync(python, [fileURLToPath(new URL('../scripts/gen_nn_fixtures.py', import.meta.url)), 'forward', file, join(dir, 'x.json')], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(closeness(ours, JSON.parse(r.stdout) as TensorJson, 1e-5, 1e-5) <= 1);
    });
    trained.dispose();
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
