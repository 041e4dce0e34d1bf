// `adaseg labels export|import`: a run's labels as PNG masks in a Cityscapes-like layout
// (trainid/<image>_gtFine_labelTrainIds.png, color/<image>_gtFine_color.png, manifest.json), and
// masks made elsewhere back into the label store, checked first and written in one transaction.
// The library code is src/labels/mask-files.ts.
import { type OptionSpec, type Parsed, UsageError } from './args.js';
import type { Command, Io } from './command.js';
import { labelStoreFile as storeFile, labelStoreGroup } from './options.js';
import { noPositionals } from './parser.js';

const NAME_OPTION: OptionSpec = {
  name: 'name',
  type: 'string',
  value: 'RUN',
  description: 'which run of the label store, e.g. entropy/seed-0 (needed when it holds more than one)',
};

/** A refusal with a code, printed as JSON with --json (the router's generic error has no code). */
function refuse(io: Io, command: string, code: string, message: string, extra: Record<string, unknown> = {}): number {
  io.err(`adaseg labels ${command}: error: ${message}`);
  if (io.json) io.out(JSON.stringify({ error: { code, message, ...extra } }));
  return 1;
}

const EXPORT_OPTIONS: OptionSpec[] = [
  ...labelStoreGroup.options,
  {
    name: 'out',
    type: 'string',
    value: 'DIR',
    required: true,
    description: 'folder to write trainid/, color/ and manifest.json into (created; files of the same images are replaced)',
  },
  NAME_OPTION,
  {
    name: 'format',
    type: 'string',
    value: 'FORMAT',
    choices: ['palette', 'trainid', 'both'],
    description: 'train-id masks, colour (palette) masks or both (default both)',
  },
];

const exportCommand: Command = {
  name: 'export',
  summary: "write a run's labels as PNG masks (train ids and/or class colours) with a manifest",
  usage:
    'adaseg labels export --run DIR --out DIR [--name RUN] [--format palette|trainid|both] [--json]\n\n' +
    'Writes every image of the run: <out>/trainid/<image>_gtFine_labelTrainIds.png (8-bit gray, the train id, 255 = unlabelled),\n' +
    "<out>/color/<image>_gtFine_color.png (palette PNG in the dataset's class colours, index = train id) and <out>/manifest.json\n" +
    '(classes, palette, ignore index, labelled pixels per image). Each file is written to a temporary name and renamed.',
  options: EXPORT_OPTIONS,
  async run({ positionals, options }: Parsed, io: Io): Promise<number> {
    noPositionals(positionals);
    const file = storeFile(options);
    const { LabelStore, LabelStoreError } = await import('../labels/store.js');
    const { chooseRun, exportLabelMasks } = await import('../labels/mask-files.js');
    const store = LabelStore.open(file, { readonly: true });
    try {
      const info = chooseRun(store, options.name as string | undefined);
      const result = exportLabelMasks(store, info.name, String(options.out), {
        format: (options.format as 'palette' | 'trainid' | 'both' | undefined) ?? 'both',
      });
      if (io.json)
        io.out(
          JSON.stringify({
            run: result.run,
            out: result.dir,
            manifest: result.manifest,
            images: result.images,
            labelledImages: result.labelledImages,
            labelledPixels: result.labelledPixels,
            files: result.files.length,
          }),
        );
      else
        io.out(
          `exported ${result.images} images of run '${result.run}' (${result.labelledImages} with labels, ${result.labelledPixels} labelled pixels) to ${result.dir} (${result.files.length} PNG files and manifest.json)`,
        );
      return 0;
    } catch (err) {
      if (err instanceof LabelStoreError) return refuse(io, 'export', err.code, err.message);
      throw err;
    } finally {
      store.close();
    }
  },
};

const ANNOTATOR = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}$/;

const IMPORT_OPTIONS: OptionSpec[] = [
  ...labelStoreGroup.options,
  {
    name: 'from',
    type: 'string',
    value: 'DIR',
    required: true,
    description: 'folder with trainid/<image>_gtFine_labelTrainIds.png and/or color/<image>_gtFine_color.png (sub-folders allowed)',
  },
  NAME_OPTION,
  { name: 'annotator', type: 'string', value: 'NAME', description: "who made the masks, recorded with each imported mask (default 'import')" },
  {
    name: 'format',
    type: 'string',
    value: 'FORMAT',
    choices: ['auto', 'trainid', 'palette'],
    description: 'which masks to read: auto = train ids, colour masks where there are none (both must agree), or only one kind (default auto)',
  },
  {
    name: 'overwrite',
    type: 'boolean',
    description: 'replace labels already in the store that differ from the imported ones (default: refuse the whole import)',
  },
  { name: 'dry-run', type: 'boolean', description: 'check everything and report what would change, write nothing' },
];

const importCommand: Command = {
  name: 'import',
  summary: 'import PNG masks made elsewhere into the label store: all checked first, then all written or none',
  usage:
    'adaseg labels import --run DIR --from DIR [--name RUN] [--annotator NAME] [--format auto|trainid|palette] [--overwrite] [--dry-run] [--json]\n\n' +
    'Every mask is checked before anything is written (unknown image, size, class ids, colours, corrupt PNG: all problems are listed),\n' +
    "then all are written in one transaction. A pixel with a class gets it; 255 (or the unlabelled colour) leaves the store's pixel alone,\n" +
    'so an import never erases a label. A pixel already labelled with another class is a conflict: the import is refused unless --overwrite.',
  options: IMPORT_OPTIONS,
  async run({ positionals, options }: Parsed, io: Io): Promise<number> {
    noPositionals(positionals);
    const annotator = (options.annotator as string | undefined) ?? 'import';
    if (!ANNOTATOR.test(annotator))
      throw new UsageError(`--annotator must be 1-64 letters, digits, '.', '_', '@', ':' or '-' (starting with a letter or digit), got '${annotator}'`);
    const file = storeFile(options);
    const { LabelStore, LabelStoreError } = await import('../labels/store.js');
    const { chooseRun, importLabelMasks, MaskImportError } = await import('../labels/mask-files.js');
    const store = LabelStore.open(file);
    try {
      const info = chooseRun(store, options.name as string | undefined);
      const result = importLabelMasks(store, info.name, String(options.from), {
        annotator,
        format: (options.format as 'auto' | 'trainid' | 'palette' | undefined) ?? 'auto',
        overwrite: options.overwrite === true,
        dryRun: options['dry-run'] === true,
      });
      if (result.ignored.length > 0)
        io.err(`warning: ignored ${result.ignored.length} file(s) that are not masks of the layout, e.g. ${result.ignored.slice(0, 3).join(', ')}`);
      if (io.json)
        io.out(
          JSON.stringify({
            run: result.run,
            from: result.dir,
            annotator,
            dryRun: result.dryRun,
            files: result.files,
            images: result.images,
            labelledPixels: result.labelledPixels,
            changedPixels: result.changedPixels,
            overwrittenPixels: result.overwrittenPixels,
            ignored: result.ignored,
          }),
        );
      else {
        const verb = result.dryRun ? 'would import' : 'imported';
        io.out(
          `${verb} ${result.images} mask(s) with labels into run '${result.run}' as '${annotator}': ${result.labelledPixels} labelled pixels, ${result.changedPixels} changed, ${result.overwrittenPixels} overwritten${result.dryRun ? ' (dry run: nothing written)' : ''}`,
        );
      }
      return 0;
    } catch (err) {
      if (err instanceof MaskImportError) return refuse(io, 'import', 'invalid-masks', err.message, { problems: err.problems });
      if (err instanceof LabelStoreError)
        return refuse(io, 'import', err.code, err.code === 'conflict' ? err.message.replace('import with overwrite', 'use --overwrite') : err.message);
      throw err;
    } finally {
      store.close();
    }
  },
};

export const labelsCommand: Command = {
  name: 'labels',
  summary: "a run's labels as PNG masks: export them, or import masks made elsewhere",
  usage: 'adaseg labels export|import --run DIR ...',
  subcommands: [exportCommand, importCommand],
};
