// One sample from source to arrays: decode (or draw, or take from the cache), check, augment,
// lay out as normalised float CHW. The same code runs in worker threads and on the main thread.
import { compileMapping, type CompiledMapping, IGNORE_INDEX, type LabelMapping } from './classes.js';
import type { LabelEncoding, Sample, UndeclaredPolicy } from './dataset.js';
import { describeSample } from './dataset.js';
import { checkMask, decodeImage, type LabelImage, mapRawLabel, readRawLabel, type RgbImage, undeclaredError } from './decode.js';
import { DataError, type DataErrorInfo, listValues } from './errors.js';
import { Rng } from './rng.js';
import { renderScene } from './synthetic.js';
import { applyTransforms, type Normalize, toCHW, type Transform } from './transforms.js';

/** Everything a worker needs to turn samples of one dataset into arrays (plain, cloneable data). */
export interface PipelineSpec {
  numClasses: number;
  mapping: LabelMapping;
  encoding: LabelEncoding;
  onUndeclared: UndeclaredPolicy;
  transforms: Transform[];
  normalize: Normalize;
}

/** A decoded sample before augmentation: what the cache keeps. */
export interface Decoded {
  image: RgbImage;
  label: LabelImage | null;
}

export interface SampleTask {
  sample: Sample;
  /** Seed of this sample's augmentation. */
  seed: number;
  /** The decoded sample from the cache, when it is there. */
  cached?: Decoded;
  /** Return the decoded sample (in shared memory) for the cache. */
  wantCache?: boolean;
}

export interface SampleResult {
  width: number;
  height: number;
  /** Normalised float32 CHW. */
  image: Float32Array;
  /** Train ids, or null for an unlabelled sample. */
  label: Uint8Array | null;
  /** Reports that did not stop the sample (undeclared values under the 'warn' policy). */
  problems: DataErrorInfo[];
  decoded?: Decoded;
}

export class Pipeline {
  readonly spec: PipelineSpec;
  private readonly compiled: CompiledMapping;

  constructor(spec: PipelineSpec) {
    this.spec = spec;
    this.compiled = compileMapping(spec.mapping, spec.numClasses);
  }

  /** Decodes image and label and checks them against each other and the dataset's declarations. */
  async decode(sample: Sample, problems: DataErrorInfo[] = []): Promise<Decoded> {
    if (sample.image.kind === 'synthetic') {
      const scene = renderScene(sample.image.scene);
      const image: RgbImage = { width: scene.width, height: scene.height, data: scene.image };
      if (sample.label.kind === 'synthetic') {
        const data = scene.label;
        for (let i = 0; i < data.length; i++) data[i] = this.compiled.lut[data[i]];
        return { image, label: { width: scene.width, height: scene.height, data } };
      }
      return { image, label: this.otherLabel(sample, image, problems) };
    }
    if (sample.label.kind !== 'file') {
      const image = await decodeImage(sample.image.path);
      return { image, label: this.otherLabel(sample, image, problems) };
    }
    const labelFile = sample.label.path;
    const [img, raw] = await Promise.allSettled([decodeImage(sample.image.path), readRawLabel(labelFile)]);
    if (img.status === 'rejected') throw img.reason;
    if (raw.status === 'rejected') throw raw.reason;
    const image = img.value;
    if (raw.value.width !== image.width || raw.value.height !== image.height) {
      throw new DataError(
        'size-mismatch',
        `label ${labelFile} is ${raw.value.width}x${raw.value.height} but its image ${sample.image.path} is ${image.width}x${image.height}`,
        { file: labelFile },
      );
    }
    const mapped = mapRawLabel(raw.value, this.spec.encoding, this.compiled, labelFile);
    if (mapped.undeclared.length > 0) {
      const err = undeclaredError(labelFile, mapped.undeclared, raw.value);
      if (this.spec.onUndeclared === 'error') throw err;
      problems.push(err.toInfo());
    }
    return { image, label: mapped.label };
  }

  private otherLabel(sample: Sample, image: RgbImage, problems: DataErrorInfo[]): LabelImage | null {
    switch (sample.label.kind) {
      case 'none':
        return null;
      case 'mask': {
        const m = sample.label.mask;
        if (m.width !== image.width || m.height !== image.height) {
          throw new DataError(
            'size-mismatch',
            `mask of sample '${sample.id}' is ${m.width}x${m.height} but its image ${describeSample(sample)} is ${image.width}x${image.height}`,
            {
              file: describeSample(sample),
            },
          );
        }
        const bad = checkMask(m.data, this.spec.numClasses);
        if (bad.length > 0) {
          const err = new DataError('undeclared-values', `mask of sample '${sample.id}' holds values that are neither a class nor ignore: ${listValues(bad)}`, {
            file: describeSample(sample),
            values: bad,
          });
          if (this.spec.onUndeclared === 'error') throw err;
          problems.push(err.toInfo());
          const data = m.data.slice();
          for (let i = 0; i < data.length; i++) if (data[i] >= this.spec.numClasses) data[i] = IGNORE_INDEX;
          return { width: m.width, height: m.height, data };
        }
        return { width: m.width, height: m.height, data: m.data };
      }
      case 'synthetic':
        throw new DataError('bad-config', `sample '${sample.id}': a synthetic label needs a synthetic image`);
      case 'file':
        throw new Error('unreachable');
    }
  }

  /** Augments a decoded sample with its seed and lays it out for a batch. Never mutates `decoded`. */
  augment(decoded: Decoded, seed: number): { width: number; height: number; image: Float32Array; label: Uint8Array | null } {
    const out = applyTransforms(decoded, this.spec.transforms, new Rng(seed));
    const image = toCHW(out.image, this.spec.normalize);
    let label: Uint8Array | null = null;
    if (out.label !== null) {
      // Copy when untouched: the caller may own (or share) the decoded arrays.
      label = out.label.data === decoded.label?.data || !(out.label.data.buffer instanceof ArrayBuffer) ? out.label.data.slice() : out.label.data;
    }
    return { width: out.image.width, height: out.image.height, image, label };
  }

  async run(task: SampleTask): Promise<SampleResult> {
    try {
      const problems: DataErrorInfo[] = [];
      const decoded = task.cached ?? (await this.decode(task.sample, problems));
      const out = this.augment(decoded, task.seed);
      const result: SampleResult = { ...out, problems };
      if (task.wantCache && task.cached === undefined) result.decoded = toShared(decoded);
      return result;
    } catch (err) {
      if (err instanceof DataError) throw err;
      // Anything else is a bug or a bad sample description: say which sample it was.
      const where = describeSample(task.sample);
      throw new DataError('worker', `sample '${task.sample.id}' (${where}): ${(err as Error)?.stack ?? String(err)}`, { file: where, cause: err });
    }
  }
}

function shared(data: Uint8Array): Uint8Array {
  if (data.buffer instanceof SharedArrayBuffer) return data;
  const out = new Uint8Array(new SharedArrayBuffer(data.byteLength));
  out.set(data);
  return out;
}

/** The decoded sample in shared memory: posting it to another thread shares it, never copies it. */
export function toShared(d: Decoded): Decoded {
  return {
    image: { width: d.image.width, height: d.image.height, data: shared(d.image.data) },
    label: d.label === null ? null : { width: d.label.width, height: d.label.height, data: shared(d.label.data) },
  };
}

export function decodedBytes(d: Decoded): number {
  return d.image.data.byteLength + (d.label?.data.byteLength ?? 0);
}
