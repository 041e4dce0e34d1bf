import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));

test('a missing addon gives an error naming the file looked for, the libtorch it was built against, and the fix', () => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '-e', `import(${JSON.stringify(index)}).catch((e) => { console.error(e.message); process.exit(3); })`],
    {
      env: { ...process.env, ADASEG_TORCH_ADDON: '/nonexistent/torch_native.node' },
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /could not load its native addon \/nonexistent\/torch_native\.node/);
  assert.match(r.stderr, /libtorch it was built against: .*libtorch_cpu\.so/);
  assert.match(r.stderr, /fix: .*(setup\.sh|apt-get install libtorch-dev)/);
});

test('the engine reports its build: libtorch version, threads, CUDA availability', async () => {
  const torch = await import('../src/index.js');
  const info = torch.buildInfo();
  assert.match(info.torchVersion, /^\d+\.\d+/);
  assert.ok(torch.getNumThreads() >= 1);
  assert.equal(typeof torch.cuda.isAvailable(), 'boolean');
  if (!info.builtWithCuda) assert.equal(torch.cuda.isAvailable(), false);
});
