// Numerical agreement with PyTorch: scripts/model_peer.py builds torchvision's resnet18 and
// deeplabv3_resnet50 (with its aux head), torchvision's FCN classes on a ResNet-18, and the PyTorch
// twins of adaseg's U-Net and DeepLabV2, with random weights and calibrated BatchNorm statistics,
// and writes weights, inputs and outputs as safetensors into a temp dir (nothing is committed: the
// weights are hundreds of MB). Our models load those weights strictly (same keys, same shapes) and
// must give the same outputs within 1e-4 x max(1, max |output|) (float32 sums in another order
// over 50+ layers). Skipped without /usr/bin/python3 and torchvision.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { buildModel, CONVERT_SNIPPET, formatLoadReport, loadWeights, resnet, UNet, type ModelConfig, type SegmentationModel } from '../src/models/index.js';
import { maxAbs, maxAbsDiff, peerUnavailable, PYTHON, SCRIPTS } from './helpers/models.js';

const TOL = 1e-4;
const skip = peerUnavailable();
let dir = '';

function io(name: string): Record<string, torch.Tensor> {
  return torch.loadSafetensorsSync(join(dir, `${name}.io.safetensors`));
}

function weights(name: string): string {
  return join(dir, `${name}.weights.safetensors`);
}

function close(label: string, ours: torch.Tensor, ref: torch.Tensor): void {
  assert.deepEqual(ours.shape, ref.shape, `${label}: shape`);
  const diff = maxAbsDiff(ours, ref);
  const scale = maxAbs(ref);
  const tol = TOL * Math.max(1, scale);
  assert.ok(diff <= tol, `${label}: max |ours - pytorch| = ${diff.toExponential(2)} > ${tol.toExponential(2)} (outputs up to ${scale.toFixed(3)})`);
  assert.ok(scale > 1e-2, `${label}: the reference output is degenerate`);
}

/** Builds, loads strictly (every key present, none unexpected), puts in eval mode. */
function load(config: ModelConfig, numClasses: number, name: string): SegmentationModel {
  const model = buildModel(config, numClasses);
  const report = loadWeights(model, weights(name), { strict: true });
  assert.equal(report.missingKeys.length + report.unexpectedKeys.length, 0);
  return model.eval();
}

describe('models agree with PyTorch', { skip: skip ?? false }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'adaseg-models-'));
    execFileSync(PYTHON, [join(SCRIPTS, 'model_peer.py'), 'numeric', dir], { stdio: 'pipe', timeout: 180_000 });
    const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Record<string, unknown>;
    assert.ok('resnet18' in cases);
  });
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  test('resnet18: layer4 features and class logits (torchvision weights, eval)', () => {
    const model = resnet('resnet18');
    loadWeights(model, weights('resnet18'), { strict: true });
    model.eval();
    torch.tidy(() => {
      const ref = io('resnet18');
      torch.inferenceMode(() => {
        close('layer4', model.forwardFeatures(ref.input, ['layer4']).layer4, ref.layer4);
        close('logits', model.forward(ref.input), ref.logits);
      });
    });
    model.dispose();
  });

  for (const [name, config] of [
    ['deeplabv3_resnet50', { kind: 'deeplabv3', backbone: 'resnet50', aux: true }],
    ['fcn_resnet18_os32', { kind: 'fcn', backbone: 'resnet18', outputStride: 32, aux: true }],
  ] as const) {
    test(`${name} (aux): logits, aux logits and features (torchvision modules and weights, eval)`, () => {
      const model = load(config, 5, name);
      torch.tidy(() => {
        const ref = io(name);
        const out = torch.inferenceMode(() => model.forward(ref.input, { aux: true }));
        close('logits', out.logits, ref.logits);
        close('aux', out.aux![0], ref.aux);
        close('features', out.features, ref.features);
        if (name === 'deeplabv3_resnet50') {
          // The same in channels_last.
          model.setChannelsLast(true);
          const cl = torch.inferenceMode(() => model.forward(ref.input, { aux: true }));
          close('channels_last logits', cl.logits, ref.logits);
          close('channels_last aux', cl.aux![0], ref.aux);
        }
      });
      model.dispose();
    });
  }

  for (const upsampling of ['bilinear', 'transposed'] as const) {
    test(`U-Net (${upsampling}) matches its PyTorch twin: eval, channels_last, and a training-mode forward`, () => {
      const name = `unet_${upsampling}`;
      const model = load({ kind: 'unet', baseWidth: 8, depth: 3, upsampling }, 5, name);
      torch.tidy(() => {
        const ref = io(name);
        const out = torch.inferenceMode(() => model.forward(ref.input));
        close('logits', out.logits, ref.logits);
        close('features', out.features, ref.features);
        model.setChannelsLast(true);
        close('channels_last logits', torch.inferenceMode(() => model.forward(ref.input)).logits, ref.logits);
        model.setChannelsLast(false);
        model.train();
        const train = torch.noGrad(() => model.forward(ref.train_input));
        close('train-mode logits', train.logits, ref.train_logits);
        const bn = (model as UNet).encoders.at(0).at(1) as torch.nn.BatchNorm2d;
        close('running_mean after the step', bn.runningMean!, ref.train_running_mean);
        close('running_var after the step', bn.runningVar!, ref.train_running_var);
      });
      model.dispose();
    });
  }

  test('CONVERT_SNIPPET turns a PyTorch .pth checkpoint into safetensors that load exactly', () => {
    const pth = join(dir, 'unet.pth');
    const converted = join(dir, 'unet.converted.safetensors');
    const reference = join(dir, 'unet.reference.safetensors');
    // A U-Net twin saved as PyTorch users do ({'state_dict': ...}, with torch.save), and the same
    // tensors written by the safetensors peer for comparison.
    const make = [
      'import sys, torch',
      `sys.path.insert(0, ${JSON.stringify(SCRIPTS)})`,
      'from model_peer import UNet, serialize',
      'torch.manual_seed(0)',
      'm = UNet(3, base_width=4, depth=2)',
      `torch.save({'state_dict': m.state_dict(), 'epoch': 3}, ${JSON.stringify(pth)})`,
      `open(${JSON.stringify(reference)}, 'wb').write(serialize(m.state_dict()))`,
    ].join('\n');
    execFileSync(PYTHON, ['-c', make], { stdio: 'pipe', timeout: 60_000 });
    const printed = execFileSync(PYTHON, ['-c', CONVERT_SNIPPET, pth, converted], { encoding: 'utf8', timeout: 60_000 });
    assert.match(printed, /^\d+ tensors -> .*unet\.converted\.safetensors\n$/);
    const model = buildModel({ kind: 'unet', baseWidth: 4, depth: 2 }, 3);
    const report = loadWeights(model, converted, { strict: true });
    assert.match(formatLoadReport(report), /\(exact match\)$/);
    torch.tidy(() => {
      const ref = torch.loadSafetensorsSync(reference);
      const sd = model.stateDict();
      assert.deepEqual(Object.keys(sd).sort(), Object.keys(ref).sort());
      for (const [k, t] of Object.entries(ref)) assert.equal(maxAbsDiff(sd[k], t), 0, k);
    });
    model.dispose();
  });

  test('DeepLabV2 (ResNet-50 trunk, multi-level) matches its PyTorch twin in AdaptSegNet layout', () => {
    const model = load({ kind: 'deeplabv2', backbone: 'resnet50', multiLevel: true }, 5, 'deeplabv2_resnet50');
    torch.tidy(() => {
      const ref = io('deeplabv2_resnet50');
      // 68x60 input: ceil-mode max pooling gives 18x16 where floor would give 17x15.
      const out = torch.inferenceMode(() => model.forward(ref.input, { aux: true }));
      close('features', out.features, ref.features);
      close('logits', out.logits, ref.logits);
      close('aux (layer5) logits', out.aux![0], ref.aux);
    });
    model.dispose();
  });
});
