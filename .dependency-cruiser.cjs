// Import boundaries (npm run check:boundaries): a layer imports only itself and the layers below it.
//
//   engine (packages/torch)  imports nothing of adaseg
//   util/, errors.ts, version.ts  the floor: anyone may import them; they import no other layer
//   data/                    engine, floor
//   models/                  engine, floor, data
//   eval/                    + data, models
//   train/                   + eval
//   adapt/                   + train
//   active/                  + adapt          (strategies, scorer, units)
//   labels/                  + active         (store, journal, lease queue, mask I/O); never experiment/
//   report/                  + labels, active (results, summary, the report page, examples, overlays)
//   experiment/              + report, labels, active (loop, config, round training, annotators)
//   annotate/                + labels, report and below; never experiment/
//   cli/, index.ts           anything
//
// Type-only imports count: a type from a higher layer ties the lower one to it just the same.
// Tests, benchmarks and scripts may import any layer.
const SRC = '^packages/adaseg/src/';
const FLOOR = ['util/', 'errors\\.ts$', 'version\\.ts$'];

/** A rule: files of `layer` may import only `layer` itself, the floor and `allowed` (folders under src/). */
function layer(name, allowed, comment) {
  const ok = [`${name}/`, ...allowed.map((a) => `${a}/`), ...FLOOR];
  return {
    name: `layer-${name}`,
    comment,
    severity: 'error',
    from: { path: `${SRC}${name}/` },
    to: { path: SRC, pathNot: `${SRC}(${ok.join('|')})` },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'engine-imports-no-adaseg',
      comment: 'packages/torch is the engine: it must not import anything of the adaseg package.',
      severity: 'error',
      from: { path: '^packages/torch/' },
      to: { path: '(^|/)packages/adaseg/|(^|/)node_modules/adaseg/' },
    },
    {
      name: 'floor-imports-no-layer',
      comment: 'util/, errors.ts and version.ts are the floor that every layer may import; they import no layer.',
      severity: 'error',
      from: { path: `${SRC}(util/|errors\\.ts$|version\\.ts$)` },
      to: { path: SRC, pathNot: `${SRC}(${FLOOR.join('|')})` },
    },
    layer('data', [], 'data/ imports only the engine and the floor.'),
    layer('models', ['data'], 'models/ imports the engine, the floor and data/.'),
    layer('eval', ['data', 'models'], 'eval/ imports data/ and models/.'),
    layer('train', ['eval', 'data', 'models'], 'train/ imports eval/ and below.'),
    layer('adapt', ['train', 'eval', 'data', 'models'], 'adapt/ imports train/ and below.'),
    layer('active', ['adapt', 'train', 'eval', 'data', 'models'], 'active/ imports adapt/ and below.'),
    layer('labels', ['active', 'adapt', 'train', 'eval', 'data', 'models'], 'labels/ imports active/ and below, never experiment/.'),
    layer(
      'report',
      ['labels', 'active', 'adapt', 'train', 'eval', 'data', 'models'],
      'report/ imports labels/, active/ and below, never experiment/ (the loop writes the report).',
    ),
    layer('experiment', ['report', 'labels', 'active', 'adapt', 'train', 'eval', 'data', 'models'], 'experiment/ imports report/, labels/, active/ and below.'),
    layer(
      'annotate',
      ['report', 'labels', 'active', 'adapt', 'train', 'eval', 'data', 'models'],
      'annotate/ imports labels/, report/ (overlay files) and below, never experiment/.',
    ),
    {
      name: 'no-unresolvable',
      comment: 'A relative import that resolves to nothing (a moved file, a typo) would slip past every rule above.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, path: '^[.][.]?/' },
    },
    {
      name: 'src-imports-no-tests',
      comment: 'The sources must not import tests, benchmarks or scripts.',
      severity: 'error',
      from: { path: '^packages/[^/]+/src/' },
      to: { path: '^packages/[^/]+/(test|bench|scripts)/' },
    },
  ],
  options: {
    // Built output is a leaf (so that the engine importing the built adaseg still shows), never followed.
    doNotFollow: { path: ['node_modules', '(^|/)(dist|build)/'] },
    exclude: { path: '(^|/)native/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.d.ts'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'types', 'default'],
    },
  },
};
