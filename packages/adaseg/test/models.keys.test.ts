// Our torchvision-layout models have exactly torchvision's state-dict keys (same names, same
// order) and shapes. The fixture test/fixtures/model_keys.json is written by
// scripts/gen_model_keys.py from Debian's torchvision 0.14 (weights=None); the DeepLab v2 entries
// come from scripts/model_peer.py's AdaptSegNet-layout twin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@adaseg/torch';
import { buildModel, resnet, type ModelConfig, type ResNetName } from '../src/models/index.js';
import { FIXTURES } from './helpers/models.js';

interface Fixture {
  torchvision: string;
  models: Record<string, { num_classes?: number; keys: Record<string, number[]> }>;
}

const fixture = JSON.parse(readFileSync(join(FIXTURES, 'model_keys.json'), 'utf8')) as Fixture;

function shapes(model: torch.nn.Module): [string, number[]][] {
  return torch.tidy(() => Object.entries(model.stateDict()).map(([k, t]) => [k, t.shape] as [string, number[]]));
}

function assertSameKeys(name: string, model: torch.nn.Module): void {
  const expected = Object.entries(fixture.models[name].keys);
  const ours = shapes(model);
  model.dispose();
  const oursMap = new Map(ours);
  const theirs = new Map(expected);
  const missing = expected.filter(([k]) => !oursMap.has(k)).map(([k]) => k);
  const extra = ours.filter(([k]) => !theirs.has(k)).map(([k]) => k);
  assert.deepEqual({ missing: missing.slice(0, 10), extra: extra.slice(0, 10) }, { missing: [], extra: [] }, `${name}: key sets differ`);
  const wrong = expected
    .filter(([k, s]) => JSON.stringify(oursMap.get(k)) !== JSON.stringify(s))
    .map(([k, s]) => `${k}: ours [${oursMap.get(k)}], torchvision [${s}]`);
  assert.deepEqual(wrong.slice(0, 10), [], `${name}: shapes differ`);
  assert.deepEqual(
    ours.map(([k]) => k),
    expected.map(([k]) => k),
    `${name}: same keys in another order`,
  );
}

test('the fixture covers every torchvision-layout model', () => {
  const names = Object.keys(fixture.models);
  for (const n of [
    'resnet18',
    'resnet50',
    'resnet101',
    'fcn_resnet50',
    'fcn_resnet50_aux',
    'deeplabv3_resnet50',
    'deeplabv3_resnet50_aux',
    'deeplabv3_resnet101',
    'deeplabv3_resnet101_aux',
  ]) {
    assert.ok(names.includes(n), n);
  }
  assert.match(fixture.torchvision, /^0\.14/);
});

for (const name of ['resnet18', 'resnet50', 'resnet101'] as ResNetName[]) {
  test(`${name}: torchvision's keys and shapes (with fc)`, () => assertSameKeys(name, resnet(name)));
}

for (const kind of ['fcn', 'deeplabv3'] as const) {
  for (const backbone of ['resnet50', 'resnet101'] as const) {
    for (const aux of [false, true]) {
      const name = `${kind}_${backbone}${aux ? '_aux' : ''}`;
      test(`${name}: torchvision's keys and shapes`, () => assertSameKeys(name, buildModel({ kind, backbone, aux }, fixture.models[name].num_classes!)));
    }
  }
}

for (const multiLevel of [true, false]) {
  const name = `deeplabv2_resnet101${multiLevel ? '_multi' : ''}`;
  test(`${name}: AdaptSegNet's keys and shapes`, () => assertSameKeys(name, buildModel({ kind: 'deeplabv2', multiLevel }, 21)));
}

test('options that do not change the layout keep the keys: output stride, rates, dropout, channels_last', () => {
  const configs: [string, ModelConfig][] = [
    ['deeplabv3_resnet50_aux', { kind: 'deeplabv3', aux: true, outputStride: 16, dropout: 0.3, channelsLast: true }],
    ['deeplabv3_resnet50', { kind: 'deeplabv3', atrousRates: [6, 12, 18] }],
    ['fcn_resnet50', { kind: 'fcn', outputStride: 16, dropout: 0.2 }],
    ['deeplabv2_resnet101_multi', { kind: 'deeplabv2', dropout: 0.1 }],
  ];
  for (const [name, config] of configs) assertSameKeys(name, buildModel(config, 21));
});
