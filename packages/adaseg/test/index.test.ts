import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, VERSION } from '../src/index.js';

test('adaseg reaches the engine through @adaseg/torch', () => {
  assert.equal(typeof VERSION, 'string');
  const t = torch.tidy(() => torch.ones([2, 2]).sum().item());
  assert.equal(t, 4);
});
