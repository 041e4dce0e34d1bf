// Helpers shared by the format readers: listing folders, split lists, pairing images with labels.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { IGNORE_INDEX } from '../classes.js';
import type { DatasetDescription, Sample } from '../dataset.js';
import { DataError } from '../errors.js';
import type { CommonOptions, LoadOptions } from './options.js';

export type { LoadOptions } from './options.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.bmp'];

export async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Sorted entry names of a folder; a missing folder is a not-found error saying what was expected. */
export async function listDir(dir: string, expected: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError('not-found', `no folder ${dir} (${expected})${code && code !== 'ENOENT' ? `: ${code}` : ''}`, { file: dir, cause: err });
  }
}

/** Image files of a folder, sorted; names ending in `suffix` only when given. */
export async function listImages(dir: string, expected: string, suffix = ''): Promise<string[]> {
  return (await listDir(dir, expected)).filter((n) => IMAGE_EXTENSIONS.includes(extname(n).toLowerCase()) && n.endsWith(suffix));
}

export function stem(name: string): string {
  return basename(name, extname(name));
}

/** Lines of a split list (blank lines and # comments skipped); missing list is not-found. */
export async function readList(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DataError('not-found', `no split list ${file}`, { file, cause: err });
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
}

/** A split list's images, each once: an image listed twice would count twice in every epoch and metric. */
export function uniqueListed(names: string[], list: string): string[] {
  const seen = new Map<string, number>();
  names.forEach((n, i) => {
    const first = seen.get(n);
    if (first !== undefined)
      throw new DataError('bad-config', `split list ${list} names image ${n} twice (entries ${first + 1} and ${i + 1}); list each image once`, { file: list });
    seen.set(n, i);
  });
  return names;
}

/**
 * Pairs images with label files by the policy: `labelFor` gives the expected label path, and
 * `labelNames` the label files that exist (one listing, not a stat per image).
 */
export function pairSamples(
  images: { id: string; image: string }[],
  labelFor: (id: string, image: string) => string,
  existing: Set<string>,
  options: CommonOptions,
  load: LoadOptions = {},
): Sample[] {
  const policy = options.labels ?? 'required';
  return images.map(({ id, image }) => {
    if (policy === 'none') return { id, image: { kind: 'file', path: image }, label: { kind: 'none' } };
    const label = labelFor(id, image);
    if (existing.has(label)) return { id, image: { kind: 'file', path: image }, label: { kind: 'file', path: label } };
    if (policy === 'optional') return { id, image: { kind: 'file', path: image }, label: { kind: 'none' } };
    const missing = new DataError('missing-label', `image ${image} has no label: expected ${label}`, { file: image });
    if (load.onMissingLabel === undefined) throw missing;
    load.onMissingLabel(missing);
    return { id, image: { kind: 'file', path: image }, label: { kind: 'none' } };
  });
}

/** Samples of the images `names` of imagesDir, each labelled by labelsDir/{its stem}.png. */
export async function pairByStem(names: string[], imagesDir: string, labelsDir: string, options: CommonOptions, load: LoadOptions = {}): Promise<Sample[]> {
  return pairSamples(
    names.map((n) => ({ id: stem(n), image: join(imagesDir, n) })),
    (id) => join(labelsDir, `${id}.png`),
    await existingFiles(labelsDir),
    options,
    load,
  );
}

/** Label files of a folder as full paths (an absent folder is an empty set). */
export async function existingFiles(dir: string): Promise<Set<string>> {
  try {
    return new Set((await readdir(dir)).map((n) => join(dir, n)));
  } catch {
    return new Set();
  }
}

/**
 * Applies `limit`, refuses an empty split, and fills in the common fields (every file format
 * reads class values from the label's first channel).
 */
export function finish(
  base: Omit<DatasetDescription, 'samples' | 'ignoreIndex' | 'onUndeclared' | 'encoding'>,
  samples: Sample[],
  options: CommonOptions,
  where: string,
): DatasetDescription {
  if (samples.length === 0)
    throw new DataError('empty-split', `split '${base.split}' of ${base.format} dataset ${base.root ?? base.name} has no images (looked in ${where})`, {
      file: where,
    });
  const kept = options.limit !== undefined ? samples.slice(0, options.limit) : samples;
  return { ...base, encoding: { kind: 'value', channel: 0 }, ignoreIndex: IGNORE_INDEX, onUndeclared: options.onUndeclared ?? 'error', samples: kept };
}

/** Image names of a split: every image, or those of {root}/{split}.txt (names or stems). */
export async function splitNames(root: string, imagesDir: string, split: string | undefined, expected: string): Promise<{ names: string[]; where: string }> {
  const available = await listImages(imagesDir, expected);
  if (split === undefined || split === 'all') return { names: available, where: imagesDir };
  const list = join(root, `${split}.txt`);
  if (!(await isFile(list))) throw new DataError('not-found', `no split list ${list} (use split 'all' for every image)`, { file: list });
  const have = new Set(available);
  const byStem = new Map(available.map((n) => [stem(n), n]));
  const names = (await readList(list)).map((entry) => {
    const name = entry.split('/').pop()!;
    const found = have.has(name) ? name : (byStem.get(name) ?? byStem.get(stem(name)));
    if (found === undefined || !IMAGE_EXTENSIONS.some((e) => found.toLowerCase().endsWith(e))) {
      throw new DataError('not-found', `split list ${list} names ${entry}, which is not in ${imagesDir}`, { file: list });
    }
    return found;
  });
  return { names: uniqueListed(names, list), where: list };
}

/**
 * A flat pair of image and label folders under the root with optional {split}.txt lists (GTA5,
 * SYNTHIA): `images` and `labels` are the folders relative to the root.
 */
export async function loadFlatFolders(
  config: { root: string; split?: string } & CommonOptions,
  layout: { images: string[]; labels: string[]; expected: string },
  base: Pick<DatasetDescription, 'name' | 'format' | 'classes' | 'mapping'>,
  load: LoadOptions = {},
): Promise<DatasetDescription> {
  const imagesDir = join(config.root, ...layout.images);
  const labelsDir = join(config.root, ...layout.labels);
  const { names, where } = await splitNames(config.root, imagesDir, config.split, layout.expected);
  const samples = await pairByStem(names, imagesDir, labelsDir, config, load);
  return finish(
    { name: base.name, format: base.format, split: config.split ?? 'all', root: config.root, classes: base.classes, mapping: base.mapping },
    samples,
    config,
    where,
  );
}
