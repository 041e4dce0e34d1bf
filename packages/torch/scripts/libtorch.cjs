// Locates libtorch for the build (binding.gyp calls this) and records where it was found,
// so that a load failure at run time can say which library was expected.
// Order, as in tch-rs: $LIBTORCH, then a Python torch install when LIBTORCH_USE_PYTORCH=1,
// then the Debian package (libtorch-dev).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const DEBIAN = { root: '/usr', include: '/usr/include', lib: '/usr/lib/x86_64-linux-gnu' };

function fromPython() {
  const py = process.env.PYTHON || 'python3';
  const dir = execFileSync(py, ['-c', 'import torch, os; print(os.path.dirname(torch.__file__))'], {
    encoding: 'utf8',
  }).trim();
  return { root: dir, include: path.join(dir, 'include'), lib: path.join(dir, 'lib'), source: 'python' };
}

function locate() {
  if (process.env.LIBTORCH) {
    const root = path.resolve(process.env.LIBTORCH);
    return { root, include: path.join(root, 'include'), lib: path.join(root, 'lib'), source: 'LIBTORCH' };
  }
  if (process.env.LIBTORCH_USE_PYTORCH === '1') return fromPython();
  return { ...DEBIAN, source: 'debian' };
}

function check(loc) {
  const header = path.join(loc.include, 'ATen', 'ATen.h');
  const lib = path.join(loc.lib, 'libtorch_cpu.so');
  const missing = [header, lib].filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    const hint =
      loc.source === 'debian'
        ? "install it with `apt-get install libtorch-dev` (the README's set-up command does), or set LIBTORCH=/path/to/libtorch"
        : `check that ${loc.source === 'LIBTORCH' ? 'LIBTORCH' : 'the Python torch install'} points at an unpacked libtorch (cxx11 ABI)`;
    process.stderr.write(`@adaseg/torch: libtorch not found (${loc.source}): missing ${missing.join(', ')}; ${hint}\n`);
    process.exit(1);
  }
  return loc;
}

const loc = check(locate());
const what = process.argv[2];
if (what === 'include') {
  // /usr/include is already on the compiler's path; naming it again would reorder system headers.
  const dirs = [loc.include, path.join(loc.include, 'torch', 'csrc', 'api', 'include')].filter((d) => d !== '/usr/include');
  process.stdout.write(dirs.join(' '));
} else if (what === 'libdir') {
  process.stdout.write(loc.lib);
} else if (what === 'cuda') {
  process.stdout.write(fs.existsSync(path.join(loc.lib, 'libtorch_cuda.so')) ? '1' : '0');
} else if (what === 'libs') {
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  if (fs.existsSync(path.join(loc.lib, 'libtorch_cuda.so'))) libs.push('-ltorch_cuda', '-lc10_cuda');
  process.stdout.write(libs.join(' '));
} else if (what === 'record') {
  // Written next to the built addon; read by src/native.ts to explain load failures.
  const out = path.join(__dirname, '..', 'build', 'libtorch.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ ...loc, libtorchCpu: path.join(loc.lib, 'libtorch_cpu.so') }, null, 2));
  process.stdout.write(out);
} else {
  process.stdout.write(JSON.stringify(loc));
}
