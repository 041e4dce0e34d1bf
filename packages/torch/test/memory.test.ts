// Memory: scope semantics (tidy, keep, dispose, asyncScope), the native accounting behind
// memory(), and the leak test of the acceptance criteria (2,000 conv forward/backward steps).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as torch from '../src/index.js';

type Tensor = torch.Tensor;

/** global.gc when node runs with --expose-gc, otherwise the same function obtained through V8 flags. */
function getGc(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function isTorchErrorFor(op: RegExp, what: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof torch.TorchError, `expected a TorchError, got ${String(e)}`);
    assert.match(e.op, op);
    assert.match(e.message, what);
    return true;
  };
}

/** Asserts that body leaves the live tensor count and bytes where they were. */
function noLeak(body: () => void): void {
  const before = torch.memory();
  body();
  const after = torch.memory();
  assert.equal(after.tensors, before.tensors, 'live tensors changed');
  assert.equal(after.bytes, before.bytes, 'live bytes changed');
  assert.equal(after.storages, before.storages, 'live storages changed');
  assert.equal(after.scopes, before.scopes, 'open scopes changed');
}

describe('tidy', () => {
  test('disposes the tensors it does not return', () =>
    noLeak(() => {
      const made: Tensor[] = [];
      const before = torch.memory().tensors;
      torch.tidy(() => {
        made.push(torch.ones([3]), torch.zeros([2, 2]));
        made.push(made[0].add(1).mul(2));
        assert.equal(torch.memory().tensors, before + 4);
        assert.equal(torch.memory().scopes, 1);
      });
      assert.ok(made.every((t) => t.isDisposed));
      assert.equal(torch.memory().tensors, before);
    }));

  test('a returned tensor survives and a second-level return moves up to the parent scope', () =>
    noLeak(() => {
      let inner: Tensor | undefined;
      let innerTemp: Tensor | undefined;
      const outer = torch.tidy(() => {
        inner = torch.tidy(() => {
          innerTemp = torch.ones([2]);
          return innerTemp.mul(3);
        });
        assert.equal(innerTemp?.isDisposed, true);
        assert.equal(inner.isDisposed, false);
        assert.deepEqual(inner.tolist(), [3, 3]);
        return inner.add(1);
      });
      // inner moved to the outer scope, which did not return it: disposed there.
      assert.equal(inner?.isDisposed, true);
      assert.equal(outer.isDisposed, false);
      assert.deepEqual(outer.tolist(), [4, 4]);
      outer.dispose();
    }));

  test('tensors returned inside arrays, nested objects and Maps survive; the rest does not', () =>
    noLeak(() => {
      let dropped: Tensor | undefined;
      const result = torch.tidy(() => {
        dropped = torch.ones([1]);
        const m = new Map<string, Tensor>([['m', torch.full([1], 4)]]);
        return { list: [torch.full([1], 1), [torch.full([1], 2)]], nested: { deep: { t: torch.full([1], 3) } }, m, n: 5, s: 'x' };
      });
      assert.equal(dropped?.isDisposed, true);
      const kept = [result.list[0] as Tensor, (result.list[1] as Tensor[])[0], result.nested.deep.t, result.m.get('m') as Tensor];
      assert.deepEqual(
        kept.map((t) => t.item()),
        [1, 2, 3, 4],
      );
      assert.equal(result.n, 5);
      torch.dispose(result);
      assert.ok(kept.every((t) => t.isDisposed));
    }));

  test('a returned tensor is disposed by an enclosing tidy that does not return it', () =>
    noLeak(() => {
      let t: Tensor | undefined;
      torch.tidy(() => {
        t = torch.tidy(() => torch.ones([2]));
        assert.equal(t.isDisposed, false);
      });
      assert.equal(t?.isDisposed, true);
    }));

  test('tensors made before the scope are not touched, even when used or returned', () =>
    noLeak(() => {
      const outside = torch.ones([2]);
      const same = torch.tidy(() => {
        outside.add(1);
        return outside;
      });
      assert.equal(same, outside);
      assert.equal(outside.isDisposed, false);
      // An in-place op returns the caller's own handle: not a new tensor, nothing to dispose.
      torch.tidy(() => outside.add_(1));
      assert.equal(outside.isDisposed, false);
      assert.deepEqual(outside.tolist(), [2, 2]);
      outside.dispose();
    }));

  test('keep() opts a tensor out of every enclosing scope', () =>
    noLeak(() => {
      let k: Tensor | undefined;
      let temp: Tensor | undefined;
      torch.tidy(() => {
        torch.tidy(() => {
          temp = torch.ones([2]);
          k = torch.keep(temp.add(1));
        });
      });
      assert.equal(temp?.isDisposed, true);
      assert.equal(k?.isDisposed, false);
      assert.deepEqual(k?.tolist(), [2, 2]);
      k?.dispose();
    }));

  test('keep() on a tensor made in an outer scope also removes it from that scope', () =>
    noLeak(() => {
      let a: Tensor | undefined;
      torch.tidy(() => {
        a = torch.ones([1]);
        torch.tidy(() => torch.keep(a as Tensor));
      });
      assert.equal(a?.isDisposed, false);
      a?.dispose();
    }));

  test('a throwing fn still disposes its tensors, and the error propagates unchanged', () =>
    noLeak(() => {
      const made: Tensor[] = [];
      const boom = new Error('boom');
      assert.throws(
        () =>
          torch.tidy(() => {
            made.push(torch.ones([4]));
            torch.tidy(() => made.push(torch.zeros([4])));
            made.push(torch.ones([4]).mul(2));
            throw boom;
          }),
        (e: unknown) => e === boom,
      );
      assert.ok(made.every((t) => t.isDisposed));
      assert.equal(torch.memory().scopes, 0);
    }));

  test('a libtorch error inside tidy disposes the tensors made before it', () =>
    noLeak(() => {
      let a: Tensor | undefined;
      assert.throws(
        () =>
          torch.tidy(() => {
            a = torch.ones([2, 3]);
            return a.matmul(torch.ones([2, 3]));
          }),
        torch.TorchError,
      );
      assert.equal(a?.isDisposed, true);
    }));

  test('an async fn is refused and its tensors are disposed', () =>
    noLeak(() => {
      assert.throws(() => torch.tidy((async () => torch.ones([1])) as unknown as () => Tensor), /tidy: fn returned a Promise; use asyncScope/);
      assert.throws(() => torch.tidy('nope' as unknown as () => void), /tidy: expected a function/);
    }));

  test('deeply nested tidy: each level frees its own', () =>
    noLeak(() => {
      const depth = 20;
      const start = torch.memory().tensors;
      const run = (level: number): Tensor =>
        torch.tidy(() => {
          const t = torch.full([2], level);
          assert.equal(torch.memory().scopes, depth - level + 1);
          return level === 0 ? t.clone() : run(level - 1).add(t);
        });
      const total = run(depth);
      assert.deepEqual(total.tolist(), [210, 210]);
      assert.equal(torch.memory().tensors, start + 1);
      total.dispose();
    }));
});

describe('dispose', () => {
  test('dispose() is idempotent and counted once', () =>
    noLeak(() => {
      const before = torch.memory();
      const t = torch.zeros([10], { dtype: 'float64' });
      assert.equal(torch.memory().tensors, before.tensors + 1);
      assert.equal(torch.memory().bytes, before.bytes + 80);
      t.dispose();
      t.dispose();
      torch.dispose([t, { t }]);
      assert.equal(t.isDisposed, true);
      assert.equal(torch.memory().tensors, before.tensors);
      assert.equal(torch.memory().bytes, before.bytes);
    }));

  test('using a disposed tensor throws a TorchError naming the op', () =>
    noLeak(() => {
      const t = torch.ones([2]);
      const other = torch.ones([2]);
      t.dispose();
      assert.throws(() => t.add(1), isTorchErrorFor(/^add\.Scalar$/, /add\.Scalar: .*'self'.* is a disposed tensor/));
      assert.throws(() => other.mul(t), isTorchErrorFor(/^mul\.Tensor$/, /mul\.Tensor: .*'other'.* is a disposed tensor/));
      assert.throws(() => torch.cat([other, t]), isTorchErrorFor(/^cat$/, /cat: .*tensors.*\[1\] is a disposed tensor/));
      assert.throws(() => torch.functional.conv2d(t, other), isTorchErrorFor(/^conv2d$/, /conv2d: .*is a disposed tensor/));
      assert.throws(() => t.shape, isTorchErrorFor(/^shape$/, /shape: the tensor is a disposed tensor/));
      assert.throws(() => t.toTypedArray(), isTorchErrorFor(/^toTypedArray$/, /disposed/));
      assert.throws(() => t.backward(), isTorchErrorFor(/^backward$/, /backward: .*disposed/));
      assert.equal(String(t), 'tensor(<disposed>)');
      other.dispose();
    }));

  test('dispose(value) frees every tensor inside arrays, Maps and plain objects', () =>
    noLeak(() => {
      const a = torch.ones([1]);
      const b = torch.ones([1]);
      const c = torch.ones([1]);
      torch.dispose({ x: [a, { b }], m: new Map([['c', c]]), other: 3 });
      assert.ok([a, b, c].every((t) => t.isDisposed));
    }));

  test('disposing a view keeps the base alive and vice versa', () =>
    noLeak(() => {
      const base = torch.arange(6);
      const view = base.view(2, 3);
      base.dispose();
      assert.deepEqual(view.tolist(), [
        [0, 1, 2],
        [3, 4, 5],
      ]);
      view.dispose();
    }));
});

describe('asyncScope', () => {
  test('disposes what the async fn does not return, including on rejection', async () => {
    const before = torch.memory();
    let temp: Tensor | undefined;
    const result = await torch.asyncScope(async () => {
      temp = torch.ones([3]);
      await new Promise((r) => setTimeout(r, 1));
      return { out: temp.mul(2) };
    });
    assert.equal(temp?.isDisposed, true);
    assert.deepEqual(result.out.tolist(), [2, 2, 2]);
    result.out.dispose();
    let temp2: Tensor | undefined;
    await assert.rejects(
      torch.asyncScope(async () => {
        temp2 = torch.ones([3]);
        await Promise.resolve();
        throw new Error('async boom');
      }),
      /async boom/,
    );
    assert.equal(temp2?.isDisposed, true);
    assert.deepEqual({ ...torch.memory() }, { ...before });
  });
});

describe('memory() accounting', () => {
  test('a view shares storage: tensors + 1, bytes and storages unchanged', () =>
    noLeak(() => {
      const t = torch.zeros([4, 4]);
      const m0 = torch.memory();
      const views = [t.view(16), t.transpose(0, 1), t.slice(0, 1, 3), t.reshape(2, 8), t.expand(2, 4, 4), t.select(0, 1)];
      const m1 = torch.memory();
      assert.equal(m1.tensors, m0.tensors + views.length);
      assert.equal(m1.bytes, m0.bytes);
      assert.equal(m1.storages, m0.storages);
      for (const v of views) assert.ok(v.native.sameStorage(t.native), 'expected a view');
      // A copy is new storage.
      const copy = t.contiguous().clone();
      assert.equal(torch.memory().bytes, m0.bytes + 64);
      assert.equal(torch.memory().storages, m0.storages + 1);
      torch.dispose([views, copy]);
      assert.deepEqual(torch.memory(), m0);
      t.dispose();
    }));

  test('bytes follow dtype and shape; disposing the last handle of a storage frees its bytes', () =>
    noLeak(() => {
      const m0 = torch.memory();
      const a = torch.zeros([3, 5], { dtype: 'float64' });
      const b = torch.zeros([7], { dtype: 'int32' });
      const c = torch.zeros([9], { dtype: 'bool' });
      assert.equal(torch.memory().bytes, m0.bytes + 120 + 28 + 9);
      const v = a.view(15);
      a.dispose();
      assert.equal(torch.memory().bytes, m0.bytes + 120 + 28 + 9, 'the view still holds the storage');
      v.dispose();
      assert.equal(torch.memory().bytes, m0.bytes + 28 + 9);
      torch.dispose([b, c]);
    }));

  test('each read of .grad is a new handle on the same storage', () =>
    noLeak(() => {
      const w = torch.ones([4], { requiresGrad: true });
      torch.tidy(() => w.mul(2).sum().backward());
      const m0 = torch.memory();
      const g1 = w.grad as Tensor;
      const m1 = torch.memory();
      const g2 = w.grad as Tensor;
      const m2 = torch.memory();
      assert.equal(m1.tensors, m0.tensors + 1);
      assert.equal(m1.bytes, m0.bytes + 16);
      assert.equal(m2.tensors, m1.tensors + 1);
      assert.equal(m2.bytes, m1.bytes, 'two handles on one grad must count its bytes once');
      torch.dispose([g1, g2, w]);
    }));

  test('the meter sees a leak: ops outside tidy accumulate until disposed', () => {
    const m0 = torch.memory();
    const leaked: Tensor[] = [];
    const x = torch.ones([8]);
    for (let i = 0; i < 10; i++) leaked.push(x.mul(i));
    assert.equal(torch.memory().tensors, m0.tensors + 11);
    assert.equal(torch.memory().bytes, m0.bytes + 11 * 32);
    torch.dispose([leaked, x]);
    assert.deepEqual(torch.memory(), m0);
  });
});

describe('leak test: 2,000 conv forward/backward steps inside tidy', () => {
  // One intra-op thread for both loops: on a busy 2-core machine OpenMP's spinning threads made
  // this tiny conv 10-80x slower (7 ms instead of 0.1 ms per forward), which says nothing about leaks.
  const withOneThread = async (fn: () => Promise<void> | void): Promise<void> => {
    const threads = torch.getNumThreads();
    torch.setNumThreads(1);
    try {
      await fn();
    } finally {
      torch.setNumThreads(threads);
    }
  };

  test('memory() returns to its start value and RSS grows under 5%', () =>
    withOneThread(async () => {
      const { start, end, rssBefore, rssAfter, perSecond } = await convLoop({ yieldEvery: 100 });
      const growth = (rssAfter - rssBefore) / rssBefore;
      console.log(
        `leak test: 2000 iterations (200 warm-up, 1 thread, event loop turned every 100), ${perSecond.toFixed(0)} it/s after warm-up; ` +
          `RSS ${mb(rssBefore)} MB -> ${mb(rssAfter)} MB (${(growth * 100).toFixed(2)}%); ` +
          `memory() start ${JSON.stringify(start)} end ${JSON.stringify(end)}`,
      );
      assert.deepEqual(end, start, 'memory() after the loop must equal its value at start');
      assert.ok(growth < 0.05, `RSS grew ${(growth * 100).toFixed(2)}% (limit 5%)`);
    }));

  test('a fully synchronous loop also frees every tensor (RSS reported, see note)', () =>
    withOneThread(async () => {
      // Node 20 runs N-API finalizers (which free each handle's native wrapper, ~200 bytes, after
      // dispose() has already freed the tensor) from a setImmediate callback, so a loop that never
      // yields holds the wrappers of every handle it made until it does: RSS grows with the number
      // of handles, then the memory is reused. Tensor memory itself is freed at once, as asserted.
      const { start, end, rssBefore, rssAfter, perSecond } = await convLoop({ yieldEvery: 0 });
      const growth = (rssAfter - rssBefore) / rssBefore;
      console.log(
        `leak test, synchronous loop (no event-loop turn): ${perSecond.toFixed(0)} it/s; ` +
          `RSS ${mb(rssBefore)} MB -> ${mb(rssAfter)} MB (${(growth * 100).toFixed(2)}%); memory() start ${JSON.stringify(start)} end ${JSON.stringify(end)}`,
      );
      assert.deepEqual(end, start, 'memory() after the loop must equal its value at start');
    }));
});

const mb = (b: number) => (b / 2 ** 20).toFixed(1);
const turnEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Full GC, a pause for V8's background sweeping and compile jobs to finish, GC again, pending finalizers run. */
async function settle(gc: () => void): Promise<void> {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 100));
  gc();
  await turnEventLoop();
}

/**
 * 2,000 steps of conv forward/backward on [2,3,16,16] with a 3->8 3x3 conv whose weight and bias
 * (kept, outside every scope) require grad: loss mean, backward, read the grads, zero them, each
 * step inside tidy. RSS is taken after a 200-step warm-up and at the end, after a full GC.
 */
async function convLoop(options: { yieldEvery: number }) {
  const gc = getGc();
  // Let GC finalise handles that earlier tests dropped without disposing, so that they are not
  // counted at the start and missing at the end.
  gc();
  await turnEventLoop();
  torch.manualSeed(0);
  // Made in tidy so that the intermediate of randn().mul() is freed now, not by GC mid-loop.
  const weight = torch.keep(torch.tidy(() => torch.randn([8, 3, 3, 3]).mul(0.1).requiresGrad_(true)));
  const bias = torch.keep(torch.zeros([8], { requiresGrad: true }));
  const input = torch.keep(torch.randn([2, 3, 16, 16]));
  const start = torch.memory();
  let gradSum = 0;

  const step = () =>
    torch.tidy(() => {
      const out = torch.functional.conv2d(input, weight, { bias, padding: 1 });
      const loss = out.relu().mean();
      loss.backward();
      const g = weight.grad as Tensor;
      gradSum += g.abs().sum().item() as number;
      g.zero_();
      (bias.grad as Tensor).zero_();
    });
  const run = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      step();
      if (options.yieldEvery > 0 && i % options.yieldEvery === 0) await turnEventLoop();
    }
  };

  const warmup = 200;
  const iterations = 2000;
  await run(0, warmup);
  if (options.yieldEvery > 0) await settle(gc);
  else gc();
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  await run(warmup, iterations);
  const perSecond = (iterations - warmup) / ((performance.now() - t0) / 1000);
  if (options.yieldEvery > 0) await settle(gc);
  else gc();
  const rssAfter = process.memoryUsage().rss;
  const end = torch.memory();
  const gradZeroed = torch.tidy(() => (weight.grad as Tensor).abs().sum().item() === 0);
  torch.dispose([weight, bias, input]);
  assert.ok(gradSum > 0, 'the gradients should be non-zero');
  assert.ok(gradZeroed, 'the gradient should have been zeroed');
  return { start, end, rssBefore, rssAfter, perSecond };
}
