// Optimisers and schedules against PyTorch 1.13 (fixtures from scripts/gen_optim_fixtures.py),
// plus state dicts, param groups, option checks and memory.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/index.js';
import type { Tensor } from '../src/index.js';
import * as optim from '../src/optim/index.js';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'optim');

interface Setup {
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  options: Record<string, unknown>;
  groups: ({ params: number[] } & Record<string, unknown>)[] | null;
  missing: boolean;
  params: number[][][];
  state_dict?: {
    state: Record<string, Record<string, number | { shape: number[]; data: number[] }>>;
    param_groups: ({ params: number[] } & Record<string, unknown>)[];
  };
  lrs?: number[][];
  schedule?: { kind: string; total_iters: number; power: number };
}
interface OptimizerFixtures {
  shapes: number[][];
  steps: number;
  state_at: number;
  missing: Record<string, number[]>;
  init: number[][];
  grads: number[][][];
  setups: Record<string, Setup>;
}
type Spec = Record<string, unknown> & { kind: string };
interface ScheduleFixtures {
  base_lrs: number[];
  steps: number;
  schedules: Record<string, { spec: Spec & { schedulers?: Spec[] }; lrs: number[][] }>;
}

const OPT: OptimizerFixtures = JSON.parse(readFileSync(join(fixtureDir, 'optimizers.json'), 'utf8'));
const SCHED: ScheduleFixtures = JSON.parse(readFileSync(join(fixtureDir, 'schedules.json'), 'utf8'));

const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
function camelKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [camel(k), v]));
}

function f32(data: number[], shape: number[]): Tensor {
  return torch.tensor(Float32Array.from(data), { shape });
}

/** Fresh leaf parameters, from the fixture's initial values or given values. */
function makeParams(values: number[][] = OPT.init): Tensor[] {
  return values.map((v, i) => torch.keep(f32(v, OPT.shapes[i]).requiresGrad_(true)));
}

function makeOptimizer(setup: Setup, params: Tensor[]): optim.Optimizer<optim.OptimizerOptions> {
  const options = camelKeys(setup.options);
  const groups = setup.groups === null ? params : setup.groups.map((g) => ({ ...camelKeys(g), params: g.params.map((i) => params[i]) }));
  const Cls = { SGD: optim.SGD, Adam: optim.Adam, AdamW: optim.AdamW }[setup.optimizer];
  return new Cls(groups as never, options as never) as unknown as optim.Optimizer<optim.OptimizerOptions>;
}

/** Sets the step's gradients (null where the fixture has none) and steps, inside a tidy scope. */
function doStep(opt: optim.Optimizer<optim.OptimizerOptions>, params: Tensor[], step: number, missing: boolean): void {
  torch.tidy(() => {
    params.forEach((p, i) => {
      p.grad = missing && (OPT.missing[String(i)] ?? []).includes(step) ? null : f32(OPT.grads[step][i], OPT.shapes[i]);
    });
    opt.step();
  });
}

/** Largest |a - e| / max(|e|, 1e-6) over the values (the fixtures hold exact float32s). */
function maxRelError(actual: Tensor, expected: number[]): number {
  const a = actual.toTypedArray() as Float32Array;
  assert.equal(a.length, expected.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.fround(expected[i]);
    worst = Math.max(worst, Math.abs(a[i] - e) / Math.max(Math.abs(e), 1e-6));
  }
  return worst;
}

function assertParams(params: Tensor[], expected: number[][], label: string): void {
  params.forEach((p, i) => {
    const err = maxRelError(p, expected[i]);
    assert.ok(err <= 1e-6, `${label}, param ${i}: relative error ${err}`);
  });
}

function disposeAll(opt: optim.Optimizer<optim.OptimizerOptions>, params: Tensor[]): void {
  opt.dispose();
  for (const p of params) {
    p.grad = null;
    p.dispose();
  }
}

describe('optimisers match PyTorch 1.13 step for step', () => {
  for (const [name, setup] of Object.entries(OPT.setups)) {
    test(name, () => {
      const params = makeParams();
      const opt = makeOptimizer(setup, params);
      const sched = setup.schedule ? new optim.PolynomialLR(opt, { totalIters: setup.schedule.total_iters, power: setup.schedule.power }) : null;
      for (let step = 0; step < OPT.steps; step++) {
        doStep(opt, params, step, setup.missing);
        if (sched !== null) {
          sched.step();
          const lrs = sched.getLastLr();
          setup.lrs![step].forEach((e, i) => assert.ok(Math.abs(lrs[i] - e) <= 1e-12 * Math.abs(e) + 1e-18, `lr at step ${step}`));
        }
        assertParams(params, setup.params[step], `step ${step + 1}`);
        for (const p of params) assert.ok(p.isLeaf && p.requiresGrad);
      }
      disposeAll(opt, params);
    });
  }
});

describe('state dicts', () => {
  const stateSetups = Object.entries(OPT.setups).filter(([, s]) => s.state_dict !== undefined);

  for (const [name, setup] of stateSetups) {
    test(`${name}: stateDict after ${OPT.state_at} steps equals PyTorch's`, () => {
      const params = makeParams();
      const opt = makeOptimizer(setup, params);
      for (let step = 0; step < OPT.state_at; step++) doStep(opt, params, step, setup.missing);
      torch.tidy(() => {
        const sd = opt.stateDict();
        const want = setup.state_dict!;
        assert.deepEqual(Object.keys(sd.state).sort(), Object.keys(want.state).sort());
        for (const [index, entry] of Object.entries(want.state)) {
          const ours = sd.state[Number(index)];
          assert.deepEqual(Object.keys(ours).sort(), Object.keys(entry).sort(), `state[${index}] keys`);
          for (const [k, v] of Object.entries(entry)) {
            if (typeof v === 'number') assert.equal(ours[k], v, `state[${index}].${k}`);
            else {
              const t = ours[k] as Tensor;
              assert.deepEqual(t.shape, v.shape);
              const err = maxRelError(t, v.data);
              assert.ok(err <= 1e-6, `state[${index}].${k}: relative error ${err}`);
            }
          }
        }
        assert.equal(sd.param_groups.length, want.param_groups.length);
        sd.param_groups.forEach((g, i) => {
          for (const [k, v] of Object.entries(g)) assert.deepEqual(v, want.param_groups[i][k], `param_groups[${i}].${k}`);
          const extra = Object.keys(want.param_groups[i]).filter((k) => !(k in g));
          assert.deepEqual(
            extra.sort(),
            ['capturable', 'differentiable', 'foreach', 'fused'].filter((k) => k in want.param_groups[i]),
          );
        });
      });
      disposeAll(opt, params);
    });

    test(`${name}: PyTorch's state dict loads and the run continues as PyTorch's`, () => {
      const want = setup.state_dict!;
      const params = makeParams(setup.params[OPT.state_at - 1]);
      const opt = makeOptimizer(setup, params);
      torch.tidy(() => {
        const state: Record<number, optim.ParamState> = {};
        for (const [index, entry] of Object.entries(want.state)) {
          state[Number(index)] = Object.fromEntries(
            Object.entries(entry).map(([k, v]) => [k, typeof v === 'number' ? (k === 'step' ? torch.scalarTensor(v) : v) : f32(v.data, v.shape)]),
          );
        }
        opt.loadStateDict({ state, param_groups: want.param_groups as optim.OptimizerStateDict['param_groups'] });
      });
      for (let step = OPT.state_at; step < OPT.steps; step++) {
        doStep(opt, params, step, setup.missing);
        assertParams(params, setup.params[step], `step ${step + 1}`);
      }
      disposeAll(opt, params);
    });
  }

  for (const name of ['sgd_momentum', 'sgd_nesterov', 'adam_amsgrad_wd', 'adam_missing_grads', 'adamw_groups', 'sgd_poly']) {
    test(`${name}: save after 10 steps, load into a fresh optimiser, 10 more = 20 straight`, () => {
      const setup = OPT.setups[name];
      const withSchedule = (opt: optim.Optimizer<optim.OptimizerOptions>) =>
        setup.schedule ? new optim.PolynomialLR(opt, { totalIters: setup.schedule.total_iters, power: setup.schedule.power }) : null;

      const straight = makeParams();
      const optA = makeOptimizer(setup, straight);
      const schedA = withSchedule(optA);
      for (let step = 0; step < OPT.steps; step++) {
        doStep(optA, straight, step, setup.missing);
        schedA?.step();
      }

      const first = makeParams();
      const optB = makeOptimizer(setup, first);
      const schedB = withSchedule(optB);
      for (let step = 0; step < 10; step++) {
        doStep(optB, first, step, setup.missing);
        schedB?.step();
      }
      // Through the safetensors-shaped form: named tensors and JSON metadata.
      const sd = optB.stateDict();
      const flat = optim.flattenOptimizerState(sd);
      for (const key of Object.keys(flat.tensors)) assert.match(key, /^state\.\d+\.(momentum_buffer|exp_avg|exp_avg_sq|max_exp_avg_sq)$/);
      const meta = JSON.parse(JSON.stringify(flat.meta));
      const schedState = schedB ? JSON.parse(JSON.stringify(schedB.stateDict())) : null;
      const resumedValues = first.map((p) => Array.from(p.toTypedArray() as Float32Array));
      disposeAll(optB, first);

      const resumed = makeParams(resumedValues);
      const optC = makeOptimizer(setup, resumed);
      const schedC = withSchedule(optC);
      optC.loadStateDict(optim.unflattenOptimizerState(flat.tensors, meta));
      if (schedC !== null) schedC.loadStateDict(schedState);
      torch.dispose(sd); // loadStateDict copies: the saved tensors are ours to free
      assert.deepEqual(
        optC.paramGroups.map((g) => g.lr),
        schedB ? schedState._last_lr : optC.paramGroups.map((g) => g.lr),
      );
      for (let step = 10; step < OPT.steps; step++) {
        doStep(optC, resumed, step, setup.missing);
        schedC?.step();
      }
      resumed.forEach((p, i) => assert.deepEqual(p.toTypedArray(), straight[i].toTypedArray(), `param ${i}`));
      if (schedA && schedC) assert.deepEqual(schedC.getLastLr(), schedA.getLastLr());
      disposeAll(optA, straight);
      disposeAll(optC, resumed);
    });
  }

  test('stateDict is a snapshot, numbered across groups, and loadStateDict checks its input', () => {
    const params = makeParams();
    const opt = new optim.Adam([{ params: [params[0]] }, { params: [params[1], params[2]], lr: 0.1 }], { lr: 0.01 });
    doStep(opt, params, 0, false);
    const sd = opt.stateDict();
    assert.deepEqual(
      sd.param_groups.map((g) => g.params),
      [[0], [1, 2]],
    );
    assert.deepEqual(sd.param_groups[1], { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: false, maximize: false, params: [1, 2] });
    const before = Array.from((sd.state[0].exp_avg as Tensor).toTypedArray() as Float32Array);
    doStep(opt, params, 1, false);
    assert.deepEqual(Array.from((sd.state[0].exp_avg as Tensor).toTypedArray() as Float32Array), before, 'a later step must not change a saved state');

    const other = new optim.Adam(makeParams(), { lr: 0.01 });
    assert.throws(() => other.loadStateDict(sd), /different number of parameter groups/);
    const sgd = new optim.SGD([{ params: [params[0]] }, { params: [params[1], params[2]] }], { lr: 0.1 });
    assert.throws(() => sgd.loadStateDict(sd), /option 'betas', which SGD does not have/);
    const wrongSize = new optim.Adam([{ params: [params[0], params[1]] }, { params: [params[2]] }]);
    assert.throws(() => wrongSize.loadStateDict(sd), /doesn't match the size/);
    const swapped = new optim.Adam([{ params: [params[1]] }, { params: [params[0], params[2]] }]);
    assert.throws(() => swapped.loadStateDict(sd), /state\[0\]\.exp_avg has shape \[4,3\], its parameter \[3\]/);
    assert.equal(swapped.state.size, 0, 'a failed load changes nothing');
    torch.dispose(sd);
    for (const o of [opt, other, sgd, wrongSize, swapped]) o.dispose();
    for (const p of params) p.dispose();
  });
});

describe('optimiser behaviour', () => {
  test('zeroGrad sets grads to null, or zeroes them in place', () => {
    const params = makeParams();
    const opt = new optim.SGD(params, { lr: 0.1 });
    torch.tidy(() => {
      params.forEach((p, i) => (p.grad = f32(OPT.grads[0][i], OPT.shapes[i])));
      params[2].grad = null;
      opt.zeroGrad(false);
      assert.deepEqual(params[0].grad!.shape, [4, 3]);
      assert.equal(params[0].grad!.abs().sum().item(), 0);
      assert.equal(params[1].grad!.abs().sum().item(), 0);
      assert.equal(params[2].grad, null);
      opt.zeroGrad();
      for (const p of params) assert.equal(p.grad, null);
    });
    // Gradients from backward, then zeroGrad: a step with all grads null changes nothing.
    torch.tidy(() => {
      params[0].mul(params[0]).sum().backward();
      assert.notEqual(params[0].grad, null);
      opt.zeroGrad();
      const before = params[0].clone();
      opt.step();
      assert.deepEqual(params[0].toTypedArray(), before.toTypedArray());
    });
    disposeAll(opt, params);
  });

  test('a step leaves grads alone, works with grads from backward, and returns the closure result', () => {
    const params = makeParams();
    const opt = new optim.SGD(params, { lr: 0.5 });
    torch.tidy(() => {
      const w0 = params[1].clone();
      const loss = opt.step(() => {
        opt.zeroGrad();
        const l = params[1].mul(params[1]).sum();
        l.backward();
        return l.item();
      });
      assert.equal(typeof loss, 'number');
      // d/dw sum(w^2) = 2w: w - 0.5 * 2w = 0.
      assert.deepEqual(Array.from(params[1].toTypedArray() as Float32Array), [0, 0, 0]);
      assert.deepEqual(params[1].grad!.toTypedArray(), w0.mul(2).toTypedArray());
    });
    disposeAll(opt, params);
  });

  test('param groups: group options override the defaults; lr can be changed between steps', () => {
    const params = makeParams();
    const opt = new optim.SGD([{ params: [params[0], params[1]] }, { params: [params[2]], lr: 1.0, momentum: 0 }], { lr: 0.1, momentum: 0.9 });
    assert.equal(opt.paramGroups.length, 2);
    assert.equal(opt.paramGroups[0].lr, 0.1);
    assert.equal(opt.paramGroups[0].momentum, 0.9);
    assert.equal(opt.paramGroups[1].lr, 1.0);
    assert.equal(opt.paramGroups[1].momentum, 0);
    assert.equal(opt.paramGroups[1].weightDecay, 0);
    torch.tidy(() => {
      const p1 = params[2].clone();
      params[2].grad = torch.onesLike(params[2]);
      opt.paramGroups[1].lr = 0.25;
      opt.step();
      assert.deepEqual(params[2].toTypedArray(), p1.sub(0.25).toTypedArray());
      assert.equal(opt.state.has(params[2]), true);
      assert.deepEqual(Object.keys(opt.state.get(params[2])!), [], 'no momentum buffer without momentum');
    });
    // A frozen parameter joins later, PyTorch's add_param_group.
    const extra = torch.keep(torch.zeros([2]).requiresGrad_(true));
    opt.addParamGroup({ params: [extra], lr: 0.01 });
    assert.equal(opt.paramGroups[2].momentum, 0.9);
    assert.throws(() => opt.addParamGroup({ params: [extra] }), /more than one parameter group/);
    disposeAll(opt, [...params, extra]);
  });

  test('bad options give clear errors', () => {
    const params = makeParams();
    const cases: [() => unknown, RegExp][] = [
      [() => new optim.SGD(params, { lr: -0.1 }), /SGD: Invalid learning rate: -0.1/],
      [() => new optim.SGD(params, { lr: NaN }), /Invalid learning rate: NaN/],
      [() => new optim.SGD(params, { lr: 0.1, momentum: -1 }), /Invalid momentum value: -1/],
      [() => new optim.SGD(params, { lr: 0.1, weightDecay: -1 }), /Invalid weight_decay value: -1/],
      [() => new optim.SGD(params, { lr: 0.1, nesterov: true }), /Nesterov momentum requires a momentum and zero dampening/],
      [() => new optim.SGD(params, { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 }), /Nesterov momentum requires a momentum and zero dampening/],
      [() => new optim.SGD([{ params: [params[0]], nesterov: true }], { lr: 0.1 }), /parameter group 0.*Nesterov momentum requires/],
      [() => new optim.SGD(params), /didn't specify a value of required optimization parameter lr/],
      [() => new optim.SGD(params, { lr: 0.1, weight_decay: 1e-4 } as never), /unknown option 'weight_decay' \(did you mean 'weightDecay'\?\)/],
      [() => new optim.SGD([{ params: [params[0]], weight_decay: 1 } as never], { lr: 0.1 }), /unknown option 'weight_decay'/],
      [() => new optim.Adam(params, { lr: -1 }), /Adam.*Invalid learning rate: -1/],
      [() => new optim.Adam(params, { betas: [1, 0.999] }), /Invalid beta parameter at index 0: 1 \(must be in \[0, 1\)\)/],
      [() => new optim.Adam(params, { betas: [0.9, -0.1] }), /Invalid beta parameter at index 1: -0.1/],
      [() => new optim.AdamW(params, { betas: [0.9, 1.5] }), /AdamW.*Invalid beta parameter at index 1: 1.5/],
      [() => new optim.Adam(params, { betas: [0.9] as never }), /betas must be a pair/],
      [() => new optim.Adam(params, { eps: -1e-8 }), /Invalid epsilon value/],
      [() => new optim.AdamW(params, { weightDecay: -0.01 }), /Invalid weight_decay value/],
      [() => new optim.Adam(params, { amsgrad: 1 as never }), /amsgrad must be true or false/],
      [() => new optim.SGD([], { lr: 0.1 }), /empty parameter list/],
      [() => new optim.SGD(params[0] as never, { lr: 0.1 }), /got a single Tensor/],
      [() => new optim.SGD([{ params: [params[0]] }, { params: [params[0]] }], { lr: 0.1 }), /more than one parameter group/],
      [() => new optim.SGD([params[0], params[0]], { lr: 0.1 }), /more than once/],
      [() => new optim.SGD([1, 2] as never, { lr: 0.1 }), /parameter group 0 must be an object|only optimize Tensors/],
    ];
    for (const [fn, pattern] of cases) assert.throws(fn, pattern);
    assert.throws(() => new optim.SGD(params, { lr: -1 }), RangeError);
    torch.tidy(() => {
      const nonLeaf = params[0].mul(2);
      assert.throws(() => new optim.SGD([nonLeaf], { lr: 0.1 }), /can't optimize a non-leaf Tensor/);
    });
    // The lr may be 0, as PyTorch.
    new optim.SGD(params, { lr: 0 }).dispose();
    for (const p of params) p.dispose();
  });

  test('state tensors are kept through tidy scopes; dispose() frees them and is idempotent', () => {
    const params = makeParams();
    const opt = new optim.Adam(params, { amsgrad: true });
    const base = torch.memory().tensors;
    torch.tidy(() => doStep(opt, params, 0, false));
    assert.equal(torch.memory().tensors, base + 9, 'three state tensors per parameter');
    for (const s of opt.state.values()) for (const v of Object.values(s)) if (typeof v !== 'number') assert.equal(v.isDisposed, false);
    const kept = [...opt.state.values()].flatMap((s) => Object.values(s).filter((v): v is Tensor => typeof v !== 'number'));
    opt.dispose();
    opt.dispose();
    assert.ok(opt.isDisposed);
    assert.equal(torch.memory().tensors, base);
    for (const t of kept) assert.equal(t.isDisposed, true);
    assert.throws(() => opt.step(), /disposed/);
    for (const p of params) {
      p.grad = null;
      p.dispose();
    }
  });

  for (const [label, make] of [
    ['SGD nesterov', (p: Tensor[]) => new optim.SGD(p, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 1e-4 })],
    ['Adam amsgrad', (p: Tensor[]) => new optim.Adam(p, { amsgrad: true, weightDecay: 1e-4, maximize: true })],
    ['AdamW', (p: Tensor[]) => new optim.AdamW(p)],
  ] as const) {
    test(`${label}: no tensors leak over 100 steps`, () => {
      const params = makeParams();
      const opt = make(params) as unknown as optim.Optimizer<optim.OptimizerOptions>;
      const sched = new optim.PolynomialLR(opt, { totalIters: 100, power: 0.9 });
      const stepOnce = (i: number) =>
        torch.tidy(() => {
          const loss = params.map((p) => p.mul(p).sum()).reduce((a, b) => a.add(b));
          opt.zeroGrad();
          loss.backward();
          if (i % 7 === 3) params[1].grad = null;
          opt.step();
          sched.step();
        });
      stepOnce(0);
      const before = torch.memory();
      for (let i = 1; i <= 100; i++) stepOnce(i);
      const after = torch.memory();
      assert.equal(after.tensors, before.tensors);
      assert.equal(after.bytes, before.bytes);
      assert.equal(after.scopes, 0);
      disposeAll(opt, params);
    });
  }
});

// ---- schedules ----

function makeScheduleOptimizer(): { opt: optim.SGD; params: Tensor[] } {
  const params = SCHED.base_lrs.map(() => torch.keep(torch.zeros([1]).requiresGrad_(true)));
  const opt = new optim.SGD(
    params.map((p, i) => ({ params: [p], lr: SCHED.base_lrs[i] })),
    { lr: SCHED.base_lrs[0] },
  );
  return { opt, params };
}

function makeSchedule(opt: optim.Optimizer<optim.OptimizerOptions>, spec: Spec & { schedulers?: Spec[] }): optim.LRScheduler {
  const s = spec as unknown as Record<string, never>;
  switch (spec.kind) {
    case 'PolynomialLR':
      return new optim.PolynomialLR(opt, { totalIters: s.total_iters, power: s.power, minLr: s.min_lr });
    case 'StepLR':
      return new optim.StepLR(opt, { stepSize: s.step_size, gamma: s.gamma });
    case 'MultiStepLR':
      return new optim.MultiStepLR(opt, { milestones: s.milestones, gamma: s.gamma });
    case 'CosineAnnealingLR':
      return new optim.CosineAnnealingLR(opt, { tMax: s.T_max, etaMin: s.eta_min });
    case 'LinearLR':
      return new optim.LinearLR(opt, { startFactor: s.start_factor, endFactor: s.end_factor, totalIters: s.total_iters });
    case 'ExponentialLR':
      return new optim.ExponentialLR(opt, { gamma: s.gamma });
    case 'ConstantLR':
      return new optim.ConstantLR(opt, { factor: s.factor, totalIters: s.total_iters });
    case 'SequentialLR':
      return new optim.SequentialLR(
        opt,
        spec.schedulers!.map((c) => makeSchedule(opt, c)),
        s.milestones,
      );
    default:
      throw new Error(`unknown schedule ${spec.kind}`);
  }
}

function assertLrs(actual: number[], expected: number[], label: string): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= 1e-12 * Math.abs(expected[i]) + 1e-18, `${label}, group ${i}: ${a} vs ${expected[i]}`));
}

describe('schedules match PyTorch 1.13', () => {
  for (const [name, { spec, lrs }] of Object.entries(SCHED.schedules)) {
    test(name, () => {
      const { opt, params } = makeScheduleOptimizer();
      const sched = makeSchedule(opt, spec);
      assertLrs(sched.getLastLr(), lrs[0], 'after construction');
      assertLrs(
        opt.paramGroups.map((g) => g.lr),
        lrs[0],
        'group lrs after construction',
      );
      for (let t = 1; t <= SCHED.steps; t++) {
        opt.step();
        sched.step();
        assertLrs(sched.getLastLr(), lrs[t], `step ${t}`);
        assert.deepEqual(
          opt.paramGroups.map((g) => g.lr),
          sched.getLastLr(),
        );
      }
      disposeAll(opt as never, params);
    });

    test(`${name}: stateDict after 20 steps resumes exactly`, () => {
      const a = makeScheduleOptimizer();
      const sa = makeSchedule(a.opt, spec);
      for (let t = 1; t <= 20; t++) sa.step();
      const saved = JSON.parse(JSON.stringify(sa.stateDict()));
      const optState = a.opt.stateDict();

      const b = makeScheduleOptimizer();
      const sb = makeSchedule(b.opt, spec);
      b.opt.loadStateDict(optState);
      sb.loadStateDict(saved);
      assert.deepEqual(
        b.opt.paramGroups.map((g) => g.lr),
        sa.getLastLr(),
      );
      assert.deepEqual(sb.getLastLr(), sa.getLastLr());
      for (let t = 21; t <= SCHED.steps; t++) {
        sb.step();
        assertLrs(sb.getLastLr(), lrs[t], `resumed step ${t}`);
      }
      disposeAll(a.opt as never, a.params);
      disposeAll(b.opt as never, b.params);
    });
  }

  test('withWarmup(poly) is SequentialLR(LinearLR, poly) and matches PyTorch', () => {
    const { spec, lrs } = SCHED.schedules.warmup_poly;
    const { opt, params } = makeScheduleOptimizer();
    const [warm, main] = spec.schedulers!;
    const sched = optim.withWarmup(new optim.PolynomialLR(opt, { totalIters: main.total_iters as number, power: main.power as number }), {
      warmupIters: warm.total_iters as number,
      startFactor: warm.start_factor as number,
    });
    assert.ok(sched instanceof optim.SequentialLR);
    for (let t = 0; t <= SCHED.steps; t++) {
      if (t > 0) sched.step();
      assertLrs(sched.getLastLr(), lrs[t], `step ${t}`);
    }
    disposeAll(opt as never, params);
  });

  test('a schedule keeps the 10x head ratio of param groups, and sets initialLr as PyTorch', () => {
    const { opt, params } = makeScheduleOptimizer();
    const sched = new optim.CosineAnnealingLR(opt, { tMax: 10 });
    assert.deepEqual(
      opt.paramGroups.map((g) => g.initialLr),
      SCHED.base_lrs,
    );
    for (let t = 0; t < 5; t++) sched.step();
    const [a, b] = sched.getLastLr();
    assert.ok(Math.abs(b / a - 10) < 1e-12);
    assert.equal(opt.stateDict().param_groups[0].initial_lr, SCHED.base_lrs[0]);
    // A schedule built later on the same optimizer takes the same base lrs (initialLr).
    const later = new optim.StepLR(opt, { stepSize: 3 });
    assert.deepEqual(later.baseLrs, SCHED.base_lrs);
    disposeAll(opt as never, params);
  });

  test('lastEpoch resumes a schedule part-way', () => {
    const { opt, params } = makeScheduleOptimizer();
    const { lrs } = SCHED.schedules['poly_0.9'];
    assert.throws(() => new optim.PolynomialLR(opt, { totalIters: 40, power: 0.9, lastEpoch: 9 }), /no initialLr/);
    opt.paramGroups.forEach((g, i) => (g.initialLr = SCHED.base_lrs[i]));
    const sched = new optim.PolynomialLR(opt, { totalIters: 40, power: 0.9, lastEpoch: 9 });
    assertLrs(sched.getLastLr(), lrs[10], 'at 10');
    disposeAll(opt as never, params);
  });

  test('bad schedule options give clear errors', () => {
    const { opt, params } = makeScheduleOptimizer();
    const other = makeScheduleOptimizer();
    const cases: [() => unknown, RegExp][] = [
      [() => new optim.StepLR(opt, { stepSize: 0 }), /StepLR: stepSize must be a positive integer, got 0/],
      [() => new optim.StepLR(opt, {} as never), /stepSize must be a positive integer, got undefined/],
      [() => new optim.PolynomialLR(opt, { totalIters: 0 }), /totalIters must be a positive integer/],
      [() => new optim.PolynomialLR(opt, { totalIters: 10, power: -1 }), /power must be a finite number >= 0/],
      [() => new optim.LinearLR(opt, { startFactor: 1.5 }), /startFactor must be in \[0, 1\]/],
      [() => new optim.ConstantLR(opt, { factor: -0.5 }), /factor must be in \[0, 1\]/],
      [() => new optim.MultiStepLR(opt, { milestones: [5, 2.5] }), /milestones\[1\] must be a non-negative integer/],
      [() => new optim.CosineAnnealingLR(opt, { tMax: -3 }), /tMax must be a positive integer/],
      [() => new optim.SequentialLR(opt, [new optim.StepLR(opt, { stepSize: 2 })], [3]), /one more than the number of milestone points/],
      [() => new optim.SequentialLR(opt, [new optim.StepLR(opt, { stepSize: 2 }), new optim.StepLR(other.opt, { stepSize: 2 })], [3]), /same optimizer/],
      [() => optim.withWarmup(new optim.StepLR(opt, { stepSize: 2 }), { warmupIters: -1 }), /warmupIters must be a non-negative integer/],
      [() => new optim.StepLR({} as never, { stepSize: 2 }), /expected an Optimizer/],
    ];
    for (const [fn, pattern] of cases) assert.throws(fn, pattern);
    disposeAll(opt as never, params);
    disposeAll(other.opt as never, other.params);
  });
});
