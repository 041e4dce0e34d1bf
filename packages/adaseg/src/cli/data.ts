// `adaseg data ...` commands.
import { resolve } from 'node:path';
// Imported module by module, not through data/index.js: inspecting needs no tensors, so the CLI
// does not load libtorch for it.
import type { DatasetConfig } from '../data/config.js';
import { DataError } from '../data/errors.js';
import { isDir } from '../data/formats/common.js';
import { detectFormat, loadDataset } from '../data/formats/index.js';
import { formatReport, inspectDataset } from '../data/inspect.js';
import { type OptionSpec, type Parsed, UsageError } from './args.js';
import type { Command, Io } from './command.js';

const SIZE = /^(\d+)x(\d+)$/;

export const DATASET_OPTIONS: OptionSpec[] = [
  {
    name: 'format',
    type: 'string',
    value: 'FORMAT',
    description: 'dataset format (default: detected from the folder)',
    choices: ['folder', 'camvid', 'cityscapes', 'gta5', 'synthia', 'synthetic'],
  },
  { name: 'root', type: 'string', value: 'DIR', description: 'dataset folder (instead of the positional path)' },
  { name: 'split', type: 'string', value: 'S', description: 'split: a list name for folder/gta5/synthia, train|val|test for camvid/cityscapes' },
  { name: 'classes', type: 'string', value: 'N', description: 'cityscapes/gta5/synthia class protocol', choices: ['19', '16', '13'] },
  { name: 'style', type: 'string', value: 'S', description: 'synthetic: source or target (default source)', choices: ['source', 'target'] },
  { name: 'count', type: 'integer', value: 'N', description: 'synthetic: number of scenes (default 32)' },
  { name: 'size', type: 'string', value: 'WxH', description: 'synthetic: scene size (default 128x96)' },
  { name: 'seed', type: 'integer', value: 'N', description: 'synthetic: seed (default 0)' },
];

/** A dataset config from `<dataset>` plus flags: a folder path, `synthetic`, or --format/--root. */
export async function datasetConfigFromArgs(spec: string | undefined, o: Record<string, unknown>): Promise<DatasetConfig> {
  const format = o.format as string | undefined;
  if (spec === 'synthetic' || format === 'synthetic') {
    const size = (o.size as string | undefined) ?? '128x96';
    const m = SIZE.exec(size);
    if (!m) throw new UsageError(`--size must look like 128x96, got '${size}'`);
    return {
      format: 'synthetic',
      style: (o.style as 'source' | 'target') ?? 'source',
      count: (o.count as number) ?? 32,
      width: Number(m[1]),
      height: Number(m[2]),
      seed: (o.seed as number) ?? 0,
    };
  }
  const rootArg = (o.root as string | undefined) ?? spec;
  if (rootArg === undefined) throw new UsageError('which dataset? give a folder, `synthetic`, or --format F --root DIR');
  if (o.root !== undefined && spec !== undefined) throw new UsageError('give the dataset either as a path or with --root, not both');
  const root = resolve(rootArg);
  if (!(await isDir(root))) throw new DataError('not-found', `dataset folder ${root} does not exist`, { file: root });
  const fmt = format ?? (await detectFormat(root));
  if (fmt === null)
    throw new UsageError(`cannot tell the format of ${root} (no meta.json, leftImg8bit/, RGB/+GT/LABELS/, {split}annot/ or images/+labels/): pass --format`);
  const split = o.split as string | undefined;
  const classes = o.classes === undefined ? undefined : (Number(o.classes) as 19 | 16 | 13);
  switch (fmt) {
    case 'folder':
      return { format: 'folder', root, ...(split ? { split } : {}) };
    case 'camvid':
    case 'cityscapes': {
      const s = split ?? 'train';
      if (!['train', 'val', 'test'].includes(s)) throw new UsageError(`--split for ${fmt} must be train, val or test, got '${s}'`);
      if (fmt === 'camvid') return { format: 'camvid', root, split: s as 'train' };
      return { format: 'cityscapes', root, split: s as 'train', ...(classes ? { classes } : {}) };
    }
    case 'gta5':
    case 'synthia':
      return { format: fmt, root, ...(split ? { split } : {}), ...(classes ? { classes } : {}) };
    default:
      throw new UsageError(`unknown format '${fmt}'`);
  }
}

const INSPECT_OPTIONS: OptionSpec[] = [
  ...DATASET_OPTIONS,
  { name: 'limit', type: 'integer', value: 'N', description: 'inspect only the first N samples' },
  { name: 'headers-only', type: 'boolean', description: 'read image headers instead of decoding images (faster, misses truncated files)' },
];

const inspect: Command = {
  name: 'inspect',
  summary: 'counts, image sizes, class pixel frequencies, label values and problems of a dataset',
  usage:
    'adaseg data inspect <dataset> [options]\n\n<dataset> is a dataset folder (format detected: meta.json → folder, leftImg8bit/ → cityscapes,\nRGB/ + GT/LABELS/ → synthia, trainannot/ → camvid, images/ + labels/ → gta5), `synthetic`,\nor given by --format F --root DIR.\n\nExit code 1 when problems are found.',
  options: INSPECT_OPTIONS,
  async run({ positionals, options }: Parsed, io: Io): Promise<number> {
    if (positionals.length > 1) throw new UsageError(`one dataset at a time, got: ${positionals.join(' ')}`);
    const config = await datasetConfigFromArgs(positionals[0], options);
    const ds = await loadDataset(config);
    const report = await inspectDataset(ds, {
      ...(options.limit !== undefined ? { limit: options.limit as number } : {}),
      decodeImages: !options['headers-only'],
    });
    if (io.json) io.out(JSON.stringify(report, null, 2));
    else io.out(formatReport(report));
    return report.problems.length > 0 ? 1 : 0;
  },
};

export const dataCommand: Command = {
  name: 'data',
  summary: 'datasets: inspect them',
  usage: 'adaseg data <command> [options]',
  subcommands: [inspect],
};
