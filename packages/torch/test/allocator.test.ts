// The caching CPU allocator (native/allocator.cc): bounded RSS in synchronous loops of MB-sized
// tensors, reuse of freed blocks, emptyCache(), its statistics and its setting.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/index.js';

const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));
const MiB = 2 ** 20;

/** Runs `body` (JS using `torch`) in a fresh process with `env` added; returns its stdout parsed as JSON. */
function inChild(env: Record<string, string>, body: string) {
  const script = `import(${JSON.stringify(index)}).then((torch) => { ${body} }).catch((e) => { console.error(e.message); process.exit(3); })`;
  return spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
}

describe('caching CPU allocator', () => {
  test('a synchronous loop of MB-sized tensors, two handles per step, keeps RSS bounded', () => {
    // Without the cache glibc put each 1.28 MB result on the brk heap and the wrappers of the
    // handles, freed only by GC after the loop, pinned the freed blocks: RSS grew by 0.4-0.8 GB
    // over these 300 steps (BENCHMARKS.md, "Allocator churn"), 21 GB in a k-means++ seeding.
    const x = torch.randn([20000, 16]);
    const c = torch.randn([16]);
    const step = () => {
      const u = c.unsqueeze(0);
      const a = x.sub(u);
      const b = a.square();
      a.dispose();
      b.dispose();
      u.dispose();
    };
    for (let i = 0; i < 10; i++) step();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 300; i++) step();
    const growth = process.memoryUsage().rss - before;
    console.log(`300 synchronous steps: RSS grew ${(growth / MiB).toFixed(1)} MiB; ${JSON.stringify(torch.cpuAllocatorStats())}`);
    torch.dispose([x, c]);
    assert.ok(growth < 64 * MiB, `RSS grew ${(growth / MiB).toFixed(1)} MiB (limit 64 MiB)`);
  });

  test('a freed block is reused by the next request of its size class; small blocks are not cached', () => {
    const s0 = torch.cpuAllocatorStats();
    assert.equal(s0.enabled, true);
    assert.equal(s0.minBlockBytes, 64 * 1024);
    assert.ok(s0.limitBytes >= 256 * MiB, `limit ${s0.limitBytes}`);

    const m0 = torch.memory();
    const t = torch.ones([MiB / 4]); // 1 MiB of float32
    const s1 = torch.cpuAllocatorStats();
    assert.equal(s1.hits + s1.misses, s0.hits + s0.misses + 1);
    assert.equal(s1.inUseBytes, s0.inUseBytes + MiB);
    // memory() counts the storage's own bytes, whatever the allocator keeps.
    assert.equal(torch.memory().bytes, m0.bytes + MiB);
    t.dispose();
    const s2 = torch.cpuAllocatorStats();
    assert.equal(s2.inUseBytes, s0.inUseBytes);
    assert.ok(s2.cachedBytes >= MiB);

    // 1 MiB - 4 bytes falls in the same class: served from the cache, and zeros() still fills it.
    const u = torch.zeros([MiB / 4 - 1]);
    const s3 = torch.cpuAllocatorStats();
    assert.equal(s3.hits, s2.hits + 1);
    assert.equal(s3.misses, s2.misses);
    assert.equal(s3.cachedBytes, s2.cachedBytes - MiB);
    assert.equal(
      torch.tidy(() => u.abs().sum().item()),
      0,
    );
    u.dispose();

    const small = torch.ones([1000]); // 4 KB: the default allocator's
    small.dispose();
    const s4 = torch.cpuAllocatorStats();
    assert.equal(s4.hits + s4.misses, s3.hits + s3.misses + 1); // the abs() above, not small
    assert.deepEqual(torch.memory(), m0);
  });

  test('emptyCache() gives every cached block back; live tensors keep their memory', () => {
    const kept = torch.full([MiB], 3); // 4 MiB, live throughout
    torch.tidy(() => {
      for (let i = 1; i <= 4; i++) torch.ones([i * MiB]);
    });
    const before = torch.cpuAllocatorStats();
    assert.ok(before.cachedBytes >= 10 * 4 * MiB, `cached ${before.cachedBytes}`);
    torch.emptyCache();
    const after = torch.cpuAllocatorStats();
    assert.equal(after.cachedBytes, 0);
    assert.equal(after.cachedBlocks, 0);
    assert.equal(after.inUseBytes, before.inUseBytes);
    assert.equal(kept.sum().item(), 3 * MiB);
    kept.dispose();
  });

  test('blocks made and freed by intra-op threads and by autograd are all returned', () => {
    torch.emptyCache();
    const s0 = torch.cpuAllocatorStats();
    torch.tidy(() => {
      const w = torch.randn([64, 32, 3, 3], { requiresGrad: true });
      const x = torch.randn([8, 32, 64, 64]);
      for (let i = 0; i < 3; i++) {
        const y = torch.functional.conv2d(x, w, { padding: 1 }).relu();
        y.sum().backward();
        torch.matmul(torch.randn([512, 512]), torch.randn([512, 512]));
      }
      w.grad?.dispose();
    });
    const s1 = torch.cpuAllocatorStats();
    assert.equal(s1.inUseBytes, s0.inUseBytes);
    assert.equal(s1.inUseBlocks, s0.inUseBlocks);
    assert.ok(s1.hits > s0.hits, 'the repeated steps reused blocks');
    assert.ok(s1.cachedBytes <= s1.limitBytes);
  });

  test('one allocator per process: a block freed in a worker thread is reused on the main thread', async () => {
    // The worker loads the addon anew (its own instance data) but must not install a second allocator.
    const tsx = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(index)}); })
      .then((torch) => { torch.ones([${(5 * MiB) / 4}]).dispose(); require('node:worker_threads').parentPort.postMessage(torch.cpuAllocatorStats()); })`;
    const s0 = torch.cpuAllocatorStats();
    const fromWorker = await new Promise<torch.CpuAllocatorStats>((resolve, reject) => {
      const w = new Worker(code, { eval: true, execArgv: [] });
      w.once('message', resolve);
      w.once('error', reject);
    });
    assert.equal(fromWorker.limitBytes, s0.limitBytes);
    assert.ok(fromWorker.misses >= s0.misses + 1, 'the worker counts in the same allocator');
    const s1 = torch.cpuAllocatorStats();
    const t = torch.ones([(5 * MiB) / 4]);
    const s2 = torch.cpuAllocatorStats();
    t.dispose();
    assert.equal(s2.hits, s1.hits + 1);
  });

  test('ADASEG_CPU_CACHE_BYTES sets the limit; least recently freed blocks are released first', () => {
    const r = inChild(
      { ADASEG_CPU_CACHE_BYTES: String(3 * MiB) },
      `const ts = [1, 2, 3, 4].map(() => torch.ones([${MiB / 4}]));
       const t0 = torch.cpuAllocatorStats();
       torch.dispose(ts);
       const t1 = torch.cpuAllocatorStats();
       const big = torch.ones([${MiB}]); big.dispose(); // 4 MiB: above the limit, never cached
       const t2 = torch.cpuAllocatorStats();
       console.log(JSON.stringify([t0, t1, t2]));`,
    );
    assert.equal(r.status, 0, r.stderr);
    const [t0, t1, t2] = JSON.parse(r.stdout) as torch.CpuAllocatorStats[];
    assert.equal(t0.limitBytes, 3 * MiB);
    assert.equal(t0.inUseBytes, 4 * MiB);
    assert.equal(t1.cachedBytes, 3 * MiB);
    assert.equal(t1.evictions, 1);
    assert.equal(t2.cachedBytes, 3 * MiB);
    assert.equal(t2.misses, t1.misses + 1);
  });

  test('ADASEG_CPU_CACHE_BYTES=0 leaves libtorch its default allocator; a bad value is refused', () => {
    const off = inChild(
      { ADASEG_CPU_CACHE_BYTES: '0' },
      `const t = torch.ones([${MiB}]); const s = t.sum().item(); t.dispose(); torch.emptyCache();
       console.log(JSON.stringify({ s, stats: torch.cpuAllocatorStats() }));`,
    );
    assert.equal(off.status, 0, off.stderr);
    const { s, stats } = JSON.parse(off.stdout) as { s: number; stats: torch.CpuAllocatorStats };
    assert.equal(s, MiB);
    assert.equal(stats.enabled, false);
    assert.equal(stats.hits + stats.misses + stats.cachedBytes, 0);

    const bad = inChild({ ADASEG_CPU_CACHE_BYTES: '1GB' }, '');
    assert.equal(bad.status, 3);
    assert.match(bad.stderr, /ADASEG_CPU_CACHE_BYTES must be a whole number of bytes .* got '1GB'/);
  });
});
