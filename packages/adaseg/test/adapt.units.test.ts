// Unit tests of the adaptation area: discriminator shapes and structure, targetness, the losses
// against hand-computed values, gradient isolation between segmenter and discriminator (and that
// the naive variants would be caught), the full update order of one adversarial iteration, and
// the pseudo-label thresholds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@adaseg/torch';
import {
  accumulateConfidences,
  AdversarialMethod,
  adaptationStep,
  createAdaptationMethod,
  entropyLoss,
  FCDiscriminator,
  ganLoss,
  levelsOf,
  maskedCrossEntropy,
  parseMethodConfig,
  pseudoLabelsFrom,
  selfInformation,
  selfInformationFromLogits,
  targetness,
  thresholdsFromHistogram,
  type AdaptMethodConfig,
  type AdversarialConfig,
} from '../src/adapt/index.js';
import { buildModel } from '../src/models/config.js';
import type { SegmentationModel } from '../src/models/base.js';
import { ConfigReader } from '../src/util/config-reader.js';

const F = torch.functional;
torch.setNumThreads(1);

function methodConfig(raw: Record<string, unknown>): AdaptMethodConfig {
  return parseMethodConfig(ConfigReader.root(raw, 'adapt'));
}

function tinyUNet(classes = 4): SegmentationModel {
  torch.manualSeed(0);
  return buildModel({ kind: 'unet', baseWidth: 4, depth: 2 }, classes);
}

function close(a: number, b: number, tol = 1e-6, what = ''): void {
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what} ${a} vs ${b}`);
}

function maxDiff(a: torch.Tensor, b: torch.Tensor): number {
  return torch.tidy(() => a.sub(b).abs().max().item() as number);
}

test('discriminator: AdaptSegNet layout, shapes, LeakyReLU 0.2 and no normalisation', () => {
  torch.manualSeed(1);
  const d = new FCDiscriminator({ inChannels: 11 });
  const shapes = Object.fromEntries(Object.entries(d.stateDict()).map(([k, t]) => [k, t.shape]));
  assert.deepEqual(shapes, {
    'conv1.weight': [64, 11, 4, 4],
    'conv1.bias': [64],
    'conv2.weight': [128, 64, 4, 4],
    'conv2.bias': [128],
    'conv3.weight': [256, 128, 4, 4],
    'conv3.bias': [256],
    'conv4.weight': [512, 256, 4, 4],
    'conv4.bias': [512],
    'classifier.weight': [1, 512, 4, 4],
    'classifier.bias': [1],
  });
  assert.equal(d.buffers().length, 0, 'no normalisation layers');
  torch.tidy(() => {
    // 240x180 (camvid-day2dusk): five halvings with floor → 7 x 5.
    assert.deepEqual(d.forward(torch.rand([2, 11, 180, 240])).shape, [2, 1, 5, 7]);
    const x = torch.rand([1, 11, 64, 32]);
    const out = d.forward(x);
    assert.deepEqual(out.shape, [1, 1, 2, 1]);
    // The same maths spelled out with the functional API.
    let y = x;
    for (const conv of [d.conv1, d.conv2, d.conv3, d.conv4]) y = F.leakyRelu(F.conv2d(y, conv.weight, { bias: conv.bias, stride: 2, padding: 1 }), 0.2);
    y = F.conv2d(y, d.classifier.weight, { bias: d.classifier.bias, stride: 2, padding: 1 });
    assert.ok(maxDiff(out, y) < 1e-6);
  });
  assert.throws(() => torch.tidy(() => d.forward(torch.rand([1, 11, 31, 64]))), /at least 32x32/);
  assert.throws(() => torch.tidy(() => d.forward(torch.rand([1, 5, 64, 64]))), /expected \[N, 11, H, W\]/);
  d.dispose();
});

test('targetness: sigmoid of the discriminator output upsampled to the input, [N, H, W]', () => {
  torch.manualSeed(2);
  const d = new FCDiscriminator({ inChannels: 4, ndf: 8 });
  const dEnt = new FCDiscriminator({ inChannels: 4, ndf: 8, input: 'self-information' });
  torch.tidy(() => {
    const probs = torch.randn([2, 4, 40, 72]).softmax(1);
    const t = targetness(d, probs);
    assert.deepEqual(t.shape, [2, 40, 72]);
    assert.ok((t.min().item() as number) >= 0 && (t.max().item() as number) <= 1);
    const expected = F.interpolate(d.forward(probs), { size: [40, 72], mode: 'bilinear', alignCorners: false })
      .sigmoid()
      .squeeze(1);
    assert.ok(maxDiff(t, expected) < 1e-6);
    const te = targetness(dEnt, probs);
    const expectedEnt = F.interpolate(dEnt.forward(selfInformation(probs)), { size: [40, 72], mode: 'bilinear', alignCorners: false })
      .sigmoid()
      .squeeze(1);
    assert.ok(maxDiff(te, expectedEnt) < 1e-6);
  });
  d.dispose();
  dEnt.dispose();
});

test('entropy terms equal hand-computed values', () => {
  // Two pixels, three classes: logits (1, 2, 3) and (0, 0, 0).
  const px = [
    [1, 2, 3],
    [0, 0, 0],
  ];
  const softmax = (v: number[]) => {
    const e = v.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  };
  const probs = px.map(softmax);
  const info = probs.map((p) => p.map((q) => (-q * Math.log(q)) / Math.log(3)));
  const entropies = info.map((i) => i.reduce((a, b) => a + b, 0));
  close(entropies[1], 1, 1e-12, 'uniform entropy'); // sanity of the hand computation
  torch.tidy(() => {
    // [N=1, C=3, H=1, W=2]
    const logits = torch.tensor([[[[1, 0]], [[2, 0]], [[3, 0]]]]);
    const si = selfInformationFromLogits(logits);
    const siProbs = selfInformation(logits.softmax(1));
    for (let c = 0; c < 3; c++) {
      for (let w = 0; w < 2; w++) {
        const v = si.select(1, c).select(1, 0).select(1, w).item() as number;
        close(v, info[w][c], 1e-6, `I[c=${c}, w=${w}]`);
        close(siProbs.select(1, c).select(1, 0).select(1, w).item() as number, info[w][c], 1e-6, 'from probabilities');
      }
    }
    close(entropyLoss(logits).item() as number, (entropies[0] + entropies[1]) / 2, 1e-6, 'entropy loss');
    // p = 0 stays finite (ADVENT's + 1e-30), and a one-hot prediction has zero entropy.
    const oneHot = torch.tensor([[[[1]], [[0]], [[0]]]]);
    assert.equal(selfInformation(oneHot).sum().item(), 0);
  });
});

test('GAN losses: BCE with logits against the domain label (or least squares)', () => {
  torch.tidy(() => {
    const out = torch.tensor([[[[-1.5, 0.5]], [[2, 0]]]]).view(2, 1, 1, 2);
    const xs = [-1.5, 0.5, 2, 0];
    const softplus = (x: number) => Math.log1p(Math.exp(x));
    const mean = (f: (x: number) => number) => xs.map(f).reduce((a, b) => a + b, 0) / xs.length;
    close(
      ganLoss(out, 0).item() as number,
      mean((x) => softplus(x)),
      1e-6,
      'vanilla, label 0',
    );
    close(
      ganLoss(out, 1).item() as number,
      mean((x) => softplus(-x)),
      1e-6,
      'vanilla, label 1',
    );
    close(
      ganLoss(out, 0, 'ls').item() as number,
      mean((x) => x * x),
      1e-6,
      'ls, label 0',
    );
    close(
      ganLoss(out, 1, 'ls').item() as number,
      mean((x) => (x - 1) ** 2),
      1e-6,
      'ls, label 1',
    );
  });
});

test('maskedCrossEntropy: the mean over labelled pixels, and 0 (not NaN) without any', () => {
  torch.tidy(() => {
    const logits = torch.randn([2, 3, 4, 4]).requiresGrad_(true);
    const labels = torch.randint(0, 3, [2, 4, 4]);
    labels.select(0, 0).fill_(255);
    const ours = maskedCrossEntropy(logits, labels);
    const ref = F.crossEntropy(logits, labels, { ignoreIndex: 255 });
    close(ours.item() as number, ref.item() as number, 1e-6);
    const none = maskedCrossEntropy(logits, torch.fullLike(labels, 255));
    assert.equal(none.item(), 0);
    none.backward();
    assert.equal(logits.grad!.abs().sum().item(), 0);
  });
});

/** One source and one target batch, detached-free outputs with their graphs. */
function batches(seed: number) {
  torch.manualSeed(seed);
  return {
    source: { images: torch.randn([2, 3, 32, 40]), labels: torch.randint(0, 4, [2, 32, 40]) },
    target: { images: torch.randn([2, 3, 32, 40]).mul(0.5).add(0.3) },
  };
}

function adversarial(model: SegmentationModel, method: 'adaptsegnet' | 'advent-adversarial' = 'adaptsegnet'): AdversarialMethod {
  torch.manualSeed(5);
  return createAdaptationMethod(methodConfig({ method, discriminator: { ndf: 8 } }), { model, iterations: 10, auxWeight: 0 }) as AdversarialMethod;
}

test("the adversarial loss gives the discriminator's parameters no gradient; the segmenter's get one", () => {
  const model = tinyUNet();
  for (const kind of ['adaptsegnet', 'advent-adversarial'] as const) {
    const method = adversarial(model, kind);
    const d = method.discriminator();
    torch.tidy(() => {
      const b = batches(1);
      model.zeroGrad();
      const { loss } = method.targetLoss(levelsOf(model.forward(b.target.images)), b.target.images);
      assert.ok(
        d.parameters().every((p) => !p.requiresGrad),
        'D is frozen while the segmenter steps',
      );
      loss!.backward();
      for (const [name, p] of d.namedParameters()) assert.equal(p.grad, null, `D.${name} got a gradient from the adversarial loss (${kind})`);
      const segGrads = model.parameters().map((p) => p.grad);
      assert.ok(
        segGrads.some((g) => g !== null && (g.abs().sum().item() as number) > 0),
        'the segmenter gets the adversarial gradient',
      );
    });
    method.dispose();
  }
  model.dispose();
});

test("the discriminator's loss gives the segmenter no gradient, even from attached predictions; a naive one would", () => {
  const model = tinyUNet();
  const method = adversarial(model);
  const d = method.discriminator();
  torch.tidy(() => {
    const b = batches(2);
    model.zeroGrad();
    // Predictions with their graphs still attached: the method must detach them itself.
    const src = levelsOf(model.forward(b.source.images));
    const tgt = levelsOf(model.forward(b.target.images));
    const before = torch.tidy(() => d.parameters().map((p) => torch.keep(p.clone())));
    const scalars = method.updateAuxiliary(src, tgt);
    assert.ok(Number.isFinite(scalars.d));
    for (const [name, p] of model.namedParameters()) assert.equal(p.grad, null, `segmenter ${name} got a gradient from the discriminator loss`);
    assert.ok(
      d.parameters().every((p) => p.requiresGrad && p.grad !== null),
      'D is trained',
    );
    assert.ok(
      d.parameters().some((p, i) => maxDiff(p, before[i]) > 0),
      'D stepped',
    );
    torch.dispose(before);

    // The naive variant (no detach) is caught by the same check.
    ganLoss(d.forward(tgt.main.softmax(1)), 1).backward();
    assert.ok(
      model.parameters().some((p) => p.grad !== null),
      'without detach the D loss reaches the segmenter',
    );
  });
  method.dispose();
  model.dispose();
});

test('the adversarial loss reads softmax maps and pushes them towards the source label, not raw logits against ones', () => {
  const model = tinyUNet();
  const method = adversarial(model);
  const d = method.discriminator();
  const seen: torch.Tensor[] = [];
  const forward = d.forward.bind(d);
  d.forward = (x: torch.Tensor) => {
    seen.push(torch.keep(x.detach().clone()));
    return forward(x);
  };
  torch.tidy(() => {
    const b = batches(3);
    const logits = model.forward(b.target.images).logits;
    const { loss, scalars } = method.targetLoss({ main: logits, aux: [] }, b.target.images);
    assert.equal(seen.length, 1);
    const input = seen[0];
    assert.ok(maxDiff(input, logits.softmax(1)) < 1e-6, 'D reads the softmax of the logits');
    assert.ok(maxDiff(input.sum(1), torch.ones([2, 32, 40])) < 1e-5, 'probabilities sum to 1 over classes');
    const out = torch.noGrad(() => forward(logits.softmax(1)));
    close(scalars.adv, ganLoss(out, 0).item() as number, 1e-6, 'BCE against the source label 0');
    assert.ok(Math.abs(scalars.adv - (ganLoss(out, 1).item() as number)) > 1e-4, 'not against ones');
    close(loss!.item() as number, 1e-3 * scalars.adv, 1e-6, 'λ_adv 1e-3');
    const naive = F.crossEntropy(logits, torch.onesLike(logits));
    assert.ok(Math.abs((naive.item() as number) - scalars.adv) > 1e-3, 'not cross-entropy of raw logits against ones');
  });
  torch.dispose(seen);
  method.dispose();
  model.dispose();
});

test('one adversarial iteration: segmenter gradients = ∂(CE_src + λ·BCE(D(softmax(target)), 0)), D = one Adam step on its detached loss', () => {
  const model = tinyUNet();
  const method = adversarial(model);
  const d = method.discriminator();
  const cfg = method.config as AdversarialConfig;
  // D as it is before the iteration.
  const d0 = new FCDiscriminator({ inChannels: 4, ndf: 8 });
  torch.tidy(() => {
    d0.loadStateDict(d.stateDict());
  });
  torch.tidy(() => {
    const b = batches(4);
    model.zeroGrad();
    const scalars = adaptationStep(model, method, b, { auxWeight: 0, labelledTargetWeight: 1 });
    assert.deepEqual(Object.keys(scalars).sort(), ['adv', 'd', 'seg']);
    const params = model.parameters();
    const got = params.map((p) => p.grad);

    // Expected segmenter gradients, from scratch with the pre-step discriminator (frozen).
    d0.requiresGrad_(false);
    const src = model.forward(b.source.images).logits;
    const tgt = model.forward(b.target.images).logits;
    const objective = maskedCrossEntropy(src, b.source.labels).add(ganLoss(d0.forward(tgt.softmax(1)), 0).mul(cfg.lambdaAdv));
    const expected = torch.autograd.grad(objective, params, { allowUnused: true, retainGraph: true });
    params.forEach((_, i) => {
      const g = got[i];
      const e = expected[i];
      assert.ok(g !== null && e !== null);
      assert.ok(maxDiff(g, e) <= 1e-5 * Math.max(1, e.abs().max().item() as number), `segmenter gradient ${i}`);
    });

    // Expected discriminator: (BCE(D(src), 0) + BCE(D(tgt), 1)) / 2 on detached predictions, one Adam step.
    d0.requiresGrad_(true);
    const opt0 = new torch.optim.Adam(d0.parameters(), { lr: cfg.discriminator.lr, betas: cfg.discriminator.betas });
    const lossD = ganLoss(d0.forward(src.detach().softmax(1)), 0)
      .div(2)
      .add(ganLoss(d0.forward(tgt.detach().softmax(1)), 1).div(2));
    close(scalars.d, lossD.item() as number, 1e-5, 'D loss');
    lossD.backward();
    opt0.step();
    const stepped = d.stateDict();
    for (const [k, t] of Object.entries(d0.stateDict())) assert.ok(maxDiff(stepped[k], t) < 1e-7, `D ${k} after the step`);
    opt0.dispose();
  });
  d0.dispose();
  method.dispose();
  model.dispose();
});

test('multi-level: one discriminator per level, λ 2e-4 (aux) + 1e-3 (main); multi on a model without aux is refused', () => {
  torch.manualSeed(0);
  const model = buildModel({ kind: 'fcn', backbone: 'resnet18', outputStride: 32, aux: true }, 4);
  const method = createAdaptationMethod(methodConfig({ method: 'adaptsegnet', discriminator: { ndf: 4 } }), {
    model,
    iterations: 5,
    auxWeight: 0.1,
  }) as AdversarialMethod;
  assert.deepEqual(Object.keys(method.modules).sort(), ['d_aux', 'd_main']);
  assert.deepEqual(Object.keys(method.optimizers).sort(), ['d_aux', 'd_main']);
  torch.tidy(() => {
    const b = batches(5);
    model.train();
    const levels = levelsOf(model.forward(b.target.images));
    assert.equal(levels.aux.length, 1);
    const { loss, scalars } = method.targetLoss(levels, b.target.images);
    close(loss!.item() as number, 1e-3 * scalars.adv + 2e-4 * scalars.advAux, 1e-6);
    model.zeroGrad();
    const all = adaptationStep(model, method, b, { auxWeight: 0.1, labelledTargetWeight: 1 });
    assert.deepEqual(Object.keys(all).sort(), ['adv', 'advAux', 'd', 'dAux', 'seg']);
  });
  method.dispose();
  model.dispose();
  const unet = tinyUNet();
  assert.throws(
    () => createAdaptationMethod(methodConfig({ method: 'advent-entropy', levels: 'multi' }), { model: unet, iterations: 5, auxWeight: 0 }),
    /needs a model with an auxiliary output/,
  );
  unet.dispose();
});

test('entropy method: λ_ent times the normalised entropy of the target predictions, no auxiliary networks', () => {
  const model = tinyUNet();
  const method = createAdaptationMethod(methodConfig({ method: 'advent-entropy' }), { model, iterations: 5, auxWeight: 0 });
  assert.deepEqual(method.modules, {});
  torch.tidy(() => {
    const b = batches(6);
    const logits = model.forward(b.target.images).logits;
    const { loss, scalars } = method.targetLoss({ main: logits, aux: [] }, b.target.images);
    close(scalars.ent, entropyLoss(logits).item() as number, 1e-6);
    close(loss!.item() as number, 1e-3 * scalars.ent, 1e-6);
  });
  method.dispose();
  model.dispose();
});

test('pseudo-labels: per-class thresholds at a portion of each class, capped; pixels below are ignored', () => {
  const bins = 10;
  const classes = 3;
  const h = new Float64Array(classes * bins);
  // class 0: 10 pixels at confidences 0.35..0.95 (one per bin 3..9 plus extra), class 1: none, class 2: all at 0.99.
  for (const [b, n] of [
    [3, 2],
    [4, 2],
    [5, 2],
    [6, 1],
    [7, 1],
    [8, 1],
    [9, 1],
  ])
    h[0 * bins + b] = n;
  h[2 * bins + 9] = 5;
  // portion 0.5 of class 0 = 5 pixels: bins 9, 8, 7, 6 hold 4, bin 5 reaches 6 → threshold 0.5.
  assert.deepEqual(thresholdsFromHistogram(h, classes, { portion: 0.5, maxThreshold: 0.9 }, bins), [0.5, 0.9, 0.9]);
  assert.deepEqual(thresholdsFromHistogram(h, classes, { portion: 0.5, maxThreshold: 0.4 }, bins), [0.4, 0.4, 0.4]);
  assert.deepEqual(thresholdsFromHistogram(h, classes, { portion: 1, maxThreshold: 1 }, bins), [0.3, 1, 0.9]);

  torch.tidy(() => {
    // [N=1, C=3, H=1, W=4]: argmax 0 (0.6), 0 (0.45), 2 (0.95), 1 (0.5)
    const probs = torch.tensor([0.6, 0.45, 0.02, 0.2, 0.3, 0.35, 0.03, 0.5, 0.1, 0.2, 0.95, 0.3]).view(1, 3, 1, 4);
    const labels = pseudoLabelsFrom(probs, torch.tensor([0.5, 0.9, 0.9]));
    assert.deepEqual(labels.tolist(), [[[0, 255, 2, 255]]]);
    const hist = new Float64Array(3 * 1000);
    accumulateConfidences(hist, probs);
    assert.equal(hist[0 * 1000 + 600], 1);
    assert.equal(hist[0 * 1000 + 450], 1);
    assert.equal(hist[2 * 1000 + 950], 1);
    assert.equal(hist[1 * 1000 + 500], 1);
    assert.equal(
      hist.reduce((a, b) => a + b, 0),
      4,
    );
  });
});

test('method config: defaults and errors that name the field', () => {
  const a = methodConfig({ method: 'adaptsegnet' }) as AdversarialConfig;
  assert.deepEqual(a, {
    method: 'adaptsegnet',
    levels: 'auto',
    labelledTargetWeight: 1,
    lambdaAdv: 1e-3,
    lambdaAdvAux: 2e-4,
    gan: 'vanilla',
    discriminator: { ndf: 64, lr: 1e-4, betas: [0.9, 0.99], power: 0.9 },
  });
  assert.deepEqual(methodConfig({ method: 'self-training' }), {
    method: 'self-training',
    levels: 'auto',
    labelledTargetWeight: 1,
    portion: 0.5,
    maxThreshold: 0.9,
    regenerateEvery: 0,
    lambdaPseudo: 1,
  });
  assert.throws(() => methodConfig({ method: 'advent' }), /adapt\.method must be one of adaptsegnet, advent-entropy, advent-adversarial, self-training/);
  assert.throws(() => methodConfig({ method: 'advent-entropy', lambdaAdv: 1 }), /adapt has an unknown key 'lambdaAdv'/);
  assert.throws(() => methodConfig({ method: 'adaptsegnet', discriminator: { lr: 0 } }), /adapt\.discriminator\.lr must be > 0/);
  assert.throws(() => methodConfig({ method: 'self-training', portion: 1.5 }), /adapt\.portion must be <= 1/);
});

test('iterations leak no tensors (adversarial and entropy)', () => {
  const model = tinyUNet();
  for (const raw of [{ method: 'advent-adversarial', discriminator: { ndf: 4 } }, { method: 'advent-entropy' }]) {
    const method = createAdaptationMethod(methodConfig(raw), { model, iterations: 5, auxWeight: 0 });
    const optimizer = new torch.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const b = batches(7);
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      optimizer.zeroGrad();
      adaptationStep(model, method, b, { auxWeight: 0, labelledTargetWeight: 1 });
      optimizer.step();
      counts.push(torch.memory().tensors);
    }
    assert.equal(counts[2], counts[1], `${raw.method}: live tensors grow across iterations (${counts.join(', ')})`);
    torch.dispose(b);
    optimizer.dispose();
    method.dispose();
  }
  model.dispose();
});
