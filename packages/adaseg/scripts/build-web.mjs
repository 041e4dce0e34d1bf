// Bundles the annotation studio (web/) into dist/web/: index.html, assets/app.js (+ source map)
// and assets/app.css, all served by `adaseg serve` (nothing is loaded from elsewhere).
//   node scripts/build-web.mjs [--outdir DIR]
// Also importable: the browser test builds the page into a temporary folder with buildWeb().
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds the page into `outdir` (default dist/web of this package) and returns that folder. */
export async function buildWeb(outdir = join(packageDir, 'dist', 'web')) {
  const web = join(packageDir, 'web');
  const assets = join(outdir, 'assets');
  rmSync(assets, { recursive: true, force: true });
  mkdirSync(assets, { recursive: true });
  await build({
    entryPoints: { app: join(web, 'main.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    outdir: assets,
    logLevel: 'warning',
  });
  await build({ entryPoints: { app: join(web, 'style.css') }, bundle: true, minify: true, outdir: assets, logLevel: 'warning' });
  copyFileSync(join(web, 'index.html'), join(outdir, 'index.html'));
  return outdir;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const at = process.argv.indexOf('--outdir');
  const outdir = at >= 0 ? resolve(process.argv[at + 1] ?? '') : undefined;
  if (at >= 0 && process.argv[at + 1] === undefined) {
    console.error('build-web: --outdir needs a folder');
    process.exit(2);
  }
  try {
    const dir = await buildWeb(outdir);
    console.log(`build-web: the annotation page is in ${dir}`);
  } catch (err) {
    console.error(`build-web: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
