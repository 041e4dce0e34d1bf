import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../src/index.js';

test('getRngState/setRngState resume the random stream exactly (5056-byte state, as torch.get_rng_state)', () => {
  torch.tidy(() => {
    torch.manualSeed(3);
    torch.randn([5]);
    const state = torch.getRngState();
    assert.deepEqual(state.shape, [5056]);
    assert.equal(state.dtype, 'uint8');
    const first = torch.rand([16]).tolist();
    torch.randn([100]);
    torch.setRngState(state);
    assert.deepEqual(torch.rand([16]).tolist(), first);
  });
});

test('setRngState refuses a tensor that is not a generator state', () => {
  torch.tidy(() => {
    assert.throws(
      () => torch.setRngState(torch.ones([3])),
      (e: unknown) => e instanceof torch.TorchError && /setRngState: the state must be a 1-d uint8 tensor/.test((e as Error).message),
    );
    assert.throws(() => torch.setRngState(torch.zeros([7], { dtype: 'uint8' })), torch.TorchError);
  });
});
