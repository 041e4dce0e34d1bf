// The models area's contract: config checking, output shapes of every kind, aux outputs, MC
// dropout, channels_last, frozen BatchNorm, parameter groups, memory hygiene, gradients, and
// loading weights with reports. Small models and inputs only.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '@adaseg/torch';
import {
  BasicBlock,
  buildModel,
  CONVERT_SNIPPET,
  DEFAULT_MODEL_CONFIG,
  dilationForOutputStride,
  DeepLabV2,
  DeepLabV3,
  describeModel,
  FCN,
  formatLoadReport,
  loadWeights,
  ModelConfigError,
  resnet,
  ResNet,
  resolveModelConfig,
  saveWeights,
  UNet,
  type ModelConfig,
  type SegmentationModel,
} from '../src/models/index.js';
import { maxAbs, maxAbsDiff } from './helpers/models.js';

const F = torch.functional;
const dir = mkdtempSync(join(tmpdir(), 'adaseg-models-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SMALL_UNET: ModelConfig = { kind: 'unet', baseWidth: 4, depth: 2 };

function withModel<M extends SegmentationModel>(model: M, fn: (m: M) => void): void {
  try {
    fn(model);
  } finally {
    model.dispose();
  }
}

describe('config', () => {
  test('the default model is a U-Net with documented defaults', () => {
    assert.deepEqual(DEFAULT_MODEL_CONFIG, { kind: 'unet' });
    assert.deepEqual(resolveModelConfig(), {
      kind: 'unet',
      baseWidth: 16,
      depth: 4,
      upsampling: 'bilinear',
      batchNorm: true,
      dropout: 0,
      channelsLast: false,
      inChannels: 3,
    });
    withModel(buildModel(undefined, 11), (m) => {
      assert.ok(m instanceof UNet);
      assert.equal(m.numClasses, 11);
      assert.match(describeModel(m), /^unet \(base 16, depth 4, bilinear\) 11 classes, 2\.0M parameters$/);
    });
  });

  test('defaults per kind, and a config from JSON works', () => {
    assert.deepEqual(resolveModelConfig({ kind: 'deeplabv3' }), {
      kind: 'deeplabv3',
      backbone: 'resnet50',
      outputStride: 8,
      aux: false,
      atrousRates: [12, 24, 36],
      dropout: 0,
      channelsLast: false,
      inChannels: 3,
    });
    assert.deepEqual((resolveModelConfig({ kind: 'deeplabv3', outputStride: 16 }) as { atrousRates: number[] }).atrousRates, [6, 12, 18]);
    assert.deepEqual(resolveModelConfig({ kind: 'fcn' }), {
      kind: 'fcn',
      backbone: 'resnet50',
      outputStride: 8,
      aux: false,
      dropout: 0,
      channelsLast: false,
      inChannels: 3,
    });
    assert.deepEqual(resolveModelConfig({ kind: 'deeplabv2' }), {
      kind: 'deeplabv2',
      backbone: 'resnet101',
      multiLevel: true,
      rates: [6, 12, 18, 24],
      dropout: 0,
      channelsLast: false,
      inChannels: 3,
    });
    const fromJson = JSON.parse('{"kind":"unet","baseWidth":8,"depth":3,"upsampling":"transposed","dropout":0.2}') as ModelConfig;
    withModel(buildModel(fromJson, 3), (m) => {
      assert.ok(m instanceof UNet);
      assert.deepEqual(m.widths, [8, 16, 32, 64]);
      assert.equal(m.dropoutLayers().length, 1);
    });
  });

  test('bad configs are ModelConfigErrors that name the key and the allowed values', () => {
    const cases: [unknown, RegExp, string | undefined][] = [
      [null, /must be an object with a 'kind'/, undefined],
      [{}, /'kind' must be one of 'unet', 'fcn', 'deeplabv3', 'deeplabv2', got undefined/, 'kind'],
      [{ kind: 'pspnet' }, /'kind' must be one of .* got 'pspnet'/, 'kind'],
      [{ kind: 'unet', basewidth: 16 }, /model config \(unet\): unknown key 'basewidth' \(known keys: .*baseWidth/, 'basewidth'],
      [{ kind: 'unet', depth: 9 }, /'depth' must be an integer in \[1, 6\], got 9/, 'depth'],
      [{ kind: 'unet', baseWidth: 2.5 }, /'baseWidth' must be an integer/, 'baseWidth'],
      [{ kind: 'unet', upsampling: 'nearest' }, /'upsampling' must be one of 'bilinear', 'transposed', got 'nearest'/, 'upsampling'],
      [{ kind: 'unet', dropout: 1 }, /'dropout' must be a probability in \[0, 1\), got 1/, 'dropout'],
      [{ kind: 'unet', channelsLast: 'yes' }, /'channelsLast' must be true or false/, 'channelsLast'],
      [{ kind: 'deeplabv3', outputStride: 32 }, /model config \(deeplabv3\): 'outputStride' must be one of 8, 16, got 32/, 'outputStride'],
      [{ kind: 'deeplabv3', backbone: 'resnet34' }, /'backbone' must be one of 'resnet18', 'resnet50', 'resnet101'/, 'backbone'],
      [{ kind: 'deeplabv3', atrousRates: [6, 12] }, /'atrousRates' must be a list of 3 integer rates/, 'atrousRates'],
      [{ kind: 'deeplabv2', backbone: 'resnet18' }, /'backbone' must be one of 'resnet50', 'resnet101'/, 'backbone'],
      [{ kind: 'deeplabv2', rates: [] }, /'rates' must be a non-empty list/, 'rates'],
      [{ kind: 'fcn', aux: 1 }, /'aux' must be true or false, got 1/, 'aux'],
      [{ kind: 'fcn', multiLevel: true }, /unknown key 'multiLevel'/, 'multiLevel'],
    ];
    for (const [config, message, key] of cases) {
      assert.throws(
        () => buildModel(config as ModelConfig, 5),
        (err: unknown) => err instanceof ModelConfigError && message.test(err.message) && err.key === key,
        `${JSON.stringify(config)} → ${message}`,
      );
    }
    assert.throws(() => buildModel({ kind: 'unet' }, 0), /numClasses must be a positive integer, got 0/);
  });
});

describe('outputs', () => {
  const N = 2;
  const H = 37;
  const W = 45;
  const cases: [string, ModelConfig, number, boolean][] = [
    ['unet bilinear', { kind: 'unet', baseWidth: 4, depth: 3 }, 4, false],
    ['unet transposed, no BN', { kind: 'unet', baseWidth: 4, depth: 3, upsampling: 'transposed', batchNorm: false }, 4, false],
    ['fcn resnet18 os8 aux', { kind: 'fcn', backbone: 'resnet18', aux: true }, 128, true],
    ['deeplabv3 resnet18 os16 aux', { kind: 'deeplabv3', backbone: 'resnet18', outputStride: 16, aux: true }, 256, true],
    ['deeplabv2 resnet50 multi-level', { kind: 'deeplabv2', backbone: 'resnet50' }, 2048, true],
  ];
  for (const [label, config, featureChannels, hasAux] of cases) {
    test(`${label}: logits at input size, features, aux in training mode only, no leaked tensors`, () => {
      withModel(buildModel(config, 6), (m) => {
        assert.equal(m.featureChannels, featureChannels);
        const x = torch.randn([N, 3, H, W]);
        const before = torch.memory().tensors;
        const shapes = torch.tidy(() => {
          const out = m.train().forward(x);
          const evalOut = torch.noGrad(() => m.eval().forward(x));
          const forced = torch.noGrad(() => m.forward(x, { aux: true }));
          return {
            logits: out.logits.shape,
            features: out.features.shape,
            aux: out.aux?.map((a) => a.shape),
            evalAux: evalOut.aux,
            forcedAux: forced.aux?.length,
          };
        });
        assert.equal(torch.memory().tensors, before, 'forward leaks no tensor handles');
        assert.deepEqual(shapes.logits, [N, 6, H, W]);
        assert.equal(shapes.features[0], N);
        assert.equal(shapes.features[1], featureChannels);
        if (config.kind === 'unet') assert.deepEqual(shapes.features.slice(2), [H, W]);
        assert.deepEqual(shapes.aux, hasAux ? [[N, 6, H, W]] : undefined);
        assert.equal(shapes.evalAux, undefined, 'no aux in eval mode unless asked');
        assert.equal(shapes.forcedAux, hasAux ? 1 : undefined);
        x.dispose();
      });
    });
  }

  test('inputs of the wrong shape are refused with a clear message', () => {
    withModel(buildModel(SMALL_UNET, 3), (m) => {
      assert.throws(
        () => torch.tidy(() => m.forward(torch.randn([1, 1, 16, 16]))),
        /UNet\.forward: expected an input of shape \[N, 3, H, W\], got \[1, 1, 16, 16\]/,
      );
      assert.throws(() => torch.tidy(() => m.forward(torch.randn([3, 16, 16]))), /got \[3, 16, 16\]/);
      assert.throws(() => torch.tidy(() => m.forward(torch.randn([1, 3, 3, 16]))), /depth 2 needs inputs of at least 4x4, got 16x3/);
    });
    withModel(buildModel({ ...SMALL_UNET, inChannels: 1 }, 3), (m) => {
      const shape = torch.tidy(() => m.forward(torch.randn([1, 1, 16, 16])).logits.shape);
      assert.deepEqual(shape, [1, 3, 16, 16]);
    });
  });

  test('gradients reach every parameter (U-Net) and the backbone through the aux head (DeepLabV3)', () => {
    withModel(buildModel({ kind: 'unet', baseWidth: 4, depth: 2, dropout: 0.1 }, 3), (m) => {
      torch.tidy(() => {
        const y = torch.randint(0, 3, [2, 16, 20]);
        const out = m.train().forward(torch.randn([2, 3, 16, 20]));
        F.crossEntropy(out.logits, y).backward();
        const missing = m
          .namedParameters()
          .filter(([, p]) => p.grad === null)
          .map(([k]) => k);
        assert.deepEqual(missing, []);
      });
      m.zeroGrad();
    });
    withModel(buildModel({ kind: 'deeplabv3', backbone: 'resnet18', aux: true }, 3), (m) => {
      torch.tidy(() => {
        const y = torch.randint(0, 3, [2, 32, 32]);
        const out = m.train().forward(torch.randn([2, 3, 32, 32]));
        F.crossEntropy(out.aux![0], y).backward();
        assert.notEqual(m.backbone.conv1.weight.grad, null);
        assert.equal(m.classifier.at(4).getParameter('weight')!.grad, null, 'the main classifier gets no gradient from the aux loss');
      });
      m.zeroGrad();
    });
  });
});

describe('backbones', () => {
  test('ResNet: output stride by dilation, feature maps, classification head', () => {
    torch.tidy(() => {
      const x = torch.randn([1, 3, 64, 64]);
      // [output stride, layer3 size, layer4 size] for a 64x64 input.
      for (const [os, s3, size] of [
        [32, 4, 2],
        [16, 4, 4],
        [8, 8, 8],
      ] as const) {
        const net = resnet('resnet18', { numClasses: null, replaceStrideWithDilation: dilationForOutputStride(os) });
        assert.equal(net.outputStride, os);
        assert.equal(net.fc, null);
        const f = torch.noGrad(() => net.eval().forwardFeatures(x, ['layer1', 'layer2', 'layer3', 'layer4']));
        assert.deepEqual(
          [f.layer1!.shape, f.layer2!.shape, f.layer3!.shape, f.layer4.shape],
          [
            [1, 64, 16, 16],
            [1, 128, 8, 8],
            [1, 256, s3, s3],
            [1, 512, size, size],
          ],
        );
        assert.deepEqual(torch.noGrad(() => net.forward(x)).shape, [1, 512, size, size], 'without fc, forward gives layer4');
        net.dispose();
      }
      const cls = resnet('resnet18', { numClasses: 7 });
      assert.deepEqual(torch.noGrad(() => cls.eval().forward(x)).shape, [1, 7]);
      cls.dispose();
    });
    assert.throws(() => resnet('resnet34' as never), /unknown ResNet 'resnet34' \(expected resnet18, resnet50, resnet101\)/);
  });
});

describe('MC dropout', () => {
  test('setMcDropout keeps dropout active in eval mode; features are taken before it', () => {
    torch.manualSeed(0);
    // 2 x 16 feature channels: two Dropout2d(0.5) masks coincide with probability 2^-32.
    withModel(buildModel({ kind: 'unet', baseWidth: 16, depth: 2, dropout: 0.5 }, 3), (m) => {
      m.eval();
      torch.tidy(() => {
        const x = torch.randn([2, 3, 16, 16]);
        const run = () => torch.inferenceMode(() => m.forward(x));
        const a = run();
        const b = run();
        assert.equal(maxAbsDiff(a.logits, b.logits), 0, 'deterministic in eval mode');
        assert.equal(m.mcDropout, false);
        m.setMcDropout(true);
        assert.equal(m.mcDropout, true);
        const c = run();
        const d = run();
        assert.ok(maxAbsDiff(c.logits, d.logits) > 0, 'two MC samples differ');
        assert.equal(maxAbsDiff(c.features, a.features), 0, 'features do not change with MC dropout');
        const bn = m.encoders.at(0).at(1) as torch.nn.BatchNorm2d;
        assert.equal(bn.training, false, 'BatchNorm stays in eval mode');
        m.setMcDropout(false);
        assert.equal(maxAbsDiff(run().logits, a.logits), 0);
      });
    });
  });

  test('models without dropout refuse MC dropout; torchvision heads have theirs', () => {
    withModel(buildModel(SMALL_UNET, 3), (m) => {
      assert.deepEqual(m.dropoutLayers(), []);
      assert.throws(() => m.setMcDropout(true), /has no dropout layer with p > 0; build it with \{ dropout: p \}/);
      m.setMcDropout(false);
    });
    withModel(buildModel({ kind: 'deeplabv3', backbone: 'resnet18', aux: true, dropout: 0.2 }, 3), (m) => {
      // ASPP project Dropout(0.5), aux FCNHead Dropout(0.1), the Dropout2d point.
      assert.deepEqual(
        m
          .dropoutLayers()
          .map((l) => `${l.constructor.name}(${l.p})`)
          .sort(),
        ['Dropout(0.1)', 'Dropout(0.5)', 'Dropout2d(0.2)'],
      );
      m.setMcDropout(true);
      assert.ok(m.dropoutLayers().every((l) => l.mcDropout));
    });
  });
});

describe('channels_last, frozen BatchNorm, parameter groups', () => {
  test('channelsLast: parameters and outputs in channels_last, same values as contiguous', () => {
    const config: ModelConfig = { kind: 'deeplabv3', backbone: 'resnet18', outputStride: 16 };
    withModel(buildModel(config, 4), (a) => {
      withModel(buildModel({ ...config, channelsLast: true }, 4), (b) => {
        assert.equal(b.isChannelsLast, true);
        torch.tidy(() => b.loadStateDict(a.stateDict()));
        const conv = b.backbone.conv1.weight;
        assert.ok(conv.isContiguous('channels_last') && !conv.isContiguous());
        a.eval();
        b.eval();
        torch.tidy(() => {
          const x = torch.randn([1, 3, 40, 40]);
          const [ya, yb] = torch.inferenceMode(() => [a.forward(x).logits, b.forward(x).logits]);
          assert.ok(yb.isContiguous('channels_last'));
          assert.ok(maxAbsDiff(ya, yb) <= 1e-4 * Math.max(1, maxAbs(ya)), `channels_last differs by ${maxAbsDiff(ya, yb)} (scale ${maxAbs(ya)})`);
        });
        b.setChannelsLast(false);
        assert.ok(b.backbone.conv1.weight.isContiguous());
      });
    });
  });

  test("freezeBatchNorm('backbone'): backbone BN fixed, head BN still trained", () => {
    withModel(buildModel({ kind: 'deeplabv3', backbone: 'resnet18', outputStride: 16 }, 3), (m) => {
      m.freezeBatchNorm('backbone');
      assert.equal(m.backbone.bn1.isFrozen, true);
      assert.equal(m.backbone.bn1.weight!.requiresGrad, false);
      const headBn = m.classifier.at(2) as torch.nn.BatchNorm2d;
      assert.equal(headBn.isFrozen, false);
      torch.tidy(() => {
        const mean = m.backbone.bn1.runningMean!.clone();
        const headMean = headBn.runningMean!.clone();
        torch.noGrad(() => m.train().forward(torch.randn([2, 3, 32, 32])));
        assert.equal(maxAbsDiff(mean, m.backbone.bn1.runningMean!), 0, 'frozen statistics do not move');
        assert.ok(maxAbsDiff(headMean, headBn.runningMean!) > 0, 'head statistics do');
      });
      m.freezeBatchNorm('all', false);
      assert.equal(m.backbone.bn1.weight!.requiresGrad, true);
    });
  });

  test('parameterGroups split backbone and head, each parameter once', () => {
    const check = (m: SegmentationModel, backboneCount: number) => {
      const { backbone, head } = m.parameterGroups();
      assert.equal(backbone.length, backboneCount);
      assert.equal(backbone.length + head.length, m.parameters().length);
      assert.equal(new Set([...backbone, ...head]).size, m.parameters().length);
      m.dispose();
    };
    const d = buildModel({ kind: 'deeplabv3', backbone: 'resnet18', aux: true }, 3);
    check(d, d.backbone.parameters().length);
    const u = buildModel(SMALL_UNET, 3);
    check(u, u.encoders.parameters().length);
    const v2 = buildModel({ kind: 'deeplabv2', backbone: 'resnet50' }, 3);
    assert.ok(v2 instanceof DeepLabV2);
    const heads = v2.layer5!.parameters().length + v2.layer6.parameters().length;
    check(v2, v2.parameters().length - heads);
  });
});

describe('weights', () => {
  test('saveWeights / loadWeights round trip gives the same outputs; the report is clean', () => {
    const file = join(dir, 'unet.safetensors');
    withModel(buildModel(SMALL_UNET, 3), (a) => {
      // Move the BN statistics so the round trip covers buffers.
      torch.tidy(() => torch.noGrad(() => a.train().forward(torch.randn([2, 3, 16, 16]))));
      saveWeights(a, file, { note: 'test' });
      withModel(buildModel(SMALL_UNET, 3), (b) => {
        const report = loadWeights(b, file, { strict: true });
        assert.deepEqual(report.missingKeys, []);
        assert.deepEqual(report.unexpectedKeys, []);
        assert.equal(report.loaded, Object.keys(torch.tidy(() => Object.fromEntries(Object.keys(a.stateDict()).map((k) => [k, 0])))).length);
        assert.match(formatLoadReport(report), /^loaded \d+ tensors from .*unet\.safetensors \(exact match\)$/);
        torch.tidy(() => {
          const x = torch.randn([1, 3, 16, 16]);
          assert.equal(maxAbsDiff(a.eval().forward(x).logits, b.eval().forward(x).logits), 0);
        });
      });
    });
  });

  test('missing, unexpected and mismatched keys are reported; strict and skipMismatched', () => {
    const file = join(dir, 'edited.safetensors');
    withModel(buildModel(SMALL_UNET, 3), (a) => {
      torch.tidy(() => {
        const sd = a.stateDict();
        const edited: Record<string, torch.Tensor> = {};
        for (const [k, t] of Object.entries(sd)) if (k !== 'encoders.0.0.weight') edited[`module.${k}`] = t.contiguous();
        edited['module.extra.weight'] = torch.zeros([2]);
        torch.saveSafetensorsSync(file, edited);
      });
      withModel(buildModel(SMALL_UNET, 3), (b) => {
        const noStrip = loadWeights(b, file);
        assert.equal(noStrip.loaded, 0);
        const report = loadWeights(b, file, { stripPrefix: 'module.' });
        assert.deepEqual(report.missingKeys, ['encoders.0.0.weight']);
        assert.deepEqual(report.unexpectedKeys, ['extra.weight']);
        const text = formatLoadReport(report);
        assert.match(text, /missing from the file, left as initialised \(1\):\n {4}encoders\.0\.0\.weight/);
        assert.match(text, /unexpected in the file, ignored \(1\):\n {4}extra\.weight/);
        assert.throws(() => loadWeights(b, file, { stripPrefix: 'module.', strict: true }), /does not match the model exactly/);
      });
      // Another number of classes: the classifier does not fit.
      withModel(buildModel(SMALL_UNET, 5), (c) => {
        assert.throws(
          () => loadWeights(c, file, { stripPrefix: 'module.' }),
          /2 tensor\(s\) have another shape.*\n {2}classifier\.weight: file \[3, 4, 1, 1\], model \[5, 4, 1, 1\]\n {2}classifier\.bias: file \[3\], model \[5\]$/,
        );
        const report = loadWeights(c, file, { stripPrefix: 'module.', skipMismatched: true });
        assert.deepEqual(report.skippedMismatched, ['classifier.weight: file [3, 4, 1, 1], model [5, 4, 1, 1]', 'classifier.bias: file [3], model [5]']);
        assert.deepEqual(report.missingKeys, ['encoders.0.0.weight', 'classifier.weight', 'classifier.bias']);
      });
    });
  });

  test("ImageNet ResNet weights load into a segmentation model's backbone (module: 'backbone')", () => {
    const file = join(dir, 'resnet18.safetensors');
    const net = resnet('resnet18');
    saveWeights(net, file);
    withModel(buildModel({ kind: 'fcn', backbone: 'resnet18', aux: true }, 3), (m) => {
      assert.ok(m instanceof FCN);
      const report = loadWeights(m, file, { module: 'backbone' });
      assert.deepEqual(report.unexpectedKeys, ['fc.bias', 'fc.weight']);
      assert.deepEqual(report.missingKeys, []);
      const conv2 = (r: ResNet) => (r.layer4.at(1) as unknown as BasicBlock).conv2.weight;
      assert.equal(maxAbsDiff(conv2(m.backbone), conv2(net)), 0);
      assert.throws(() => loadWeights(m, file, { module: 'encoder' }), /no submodule 'encoder' \(top-level modules: backbone, classifier, aux_classifier\)/);
    });
    net.dispose();
  });

  test('DeepLabV2 takes ImageNet ResNet-101 keys at its top level (only fc unexpected, heads missing)', () => {
    const file = join(dir, 'resnet50.safetensors');
    const net = resnet('resnet50');
    saveWeights(net, file);
    net.dispose();
    withModel(buildModel({ kind: 'deeplabv2', backbone: 'resnet50' }, 3), (m) => {
      const report = loadWeights(m, file);
      assert.deepEqual(report.unexpectedKeys, ['fc.bias', 'fc.weight']);
      assert.ok(report.missingKeys.every((k) => k.startsWith('layer5.') || k.startsWith('layer6.')));
      assert.equal(report.missingKeys.length, 16);
    });
  });

  test('the README documents CONVERT_SNIPPET verbatim', () => {
    const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md'), 'utf8');
    assert.ok(readme.includes(`\`\`\`python\n${CONVERT_SNIPPET}\`\`\``), 'README.md and CONVERT_SNIPPET differ');
  });

  test('model classes', () => {
    withModel(buildModel({ kind: 'deeplabv3', backbone: 'resnet18' }, 2), (m) => assert.ok(m instanceof DeepLabV3));
  });
});
