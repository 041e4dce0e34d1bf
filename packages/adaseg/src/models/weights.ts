// Weights in and out of models as safetensors files, with PyTorch's dotted state-dict names.
// A PyTorch checkpoint becomes safetensors with CONVERT_SNIPPET (plain Python + torch, no
// `safetensors` package) or scripts/pth_to_safetensors.py.
import { existsSync } from 'node:fs';
import { AdasegError } from '../errors.js';
import * as torch from '@adaseg/torch';

type Tensor = torch.Tensor;

export interface LoadWeightsOptions {
  /**
   * Load into this submodule (a dotted path such as 'backbone'), e.g. ImageNet ResNet weights into
   * a DeepLabV3's backbone. Default: the whole model.
   */
  module?: string;
  /** Strip this prefix from the file's keys when present (e.g. 'module.' from DataParallel). */
  stripPrefix?: string;
  /** Skip tensors whose shape differs from the model's (e.g. a classifier for other classes) and report them. Default false: a shape mismatch is an error. */
  skipMismatched?: boolean;
  /** Throw when keys are missing or unexpected (as PyTorch's strict=True). Default false: report them. */
  strict?: boolean;
}

export interface LoadWeightsReport {
  file: string;
  /** Tensors copied into the model. */
  loaded: number;
  /** Model tensors not loaded (absent from the file, or skipped for their shape), in the model's order; they keep their values. */
  missingKeys: string[];
  /** File tensors the model has no place for (ignored), sorted. */
  unexpectedKeys: string[];
  /** Tensors skipped for a shape mismatch (skipMismatched), as 'key: file [..], model [..]'. */
  skippedMismatched: string[];
}

/** Finds a submodule by dotted path ('' is the model itself). */
function submodule(model: torch.nn.Module, path: string): torch.nn.Module {
  if (path === '') return model;
  for (const [name, m] of model.namedModules()) if (name === path) return m;
  const names = [...model.namedModules()].map(([n]) => n).filter((n) => n !== '' && !n.includes('.'));
  throw new Error(`loadWeights: the model has no submodule '${path}' (top-level modules: ${names.join(', ')})`);
}

/**
 * Loads a safetensors file into a model (or one of its submodules) and reports what did not match.
 * Values are converted to the model's dtype; the model's memory format is kept.
 */
export function loadWeights(model: torch.nn.Module, file: string, options: LoadWeightsOptions = {}): LoadWeightsReport {
  const target = submodule(model, options.module ?? '');
  return torch.tidy(() => {
    const raw = torch.loadSafetensorsSync(file);
    const entries = new Map<string, Tensor>();
    const prefix = options.stripPrefix;
    for (const [k, t] of Object.entries(raw)) entries.set(prefix !== undefined && prefix !== '' && k.startsWith(prefix) ? k.slice(prefix.length) : k, t);
    const own = target.stateDict();
    // Shape mismatches, in the model's order.
    const mismatched = Object.keys(own).filter((k) => entries.has(k) && !sameShape(own[k], entries.get(k)!));
    const described = mismatched.map((k) => `${k}: file [${entries.get(k)!.shape.join(', ')}], model [${own[k].shape.join(', ')}]`);
    if (mismatched.length > 0 && !options.skipMismatched) {
      throw new Error(
        `loadWeights: ${file}: ${mismatched.length} tensor(s) have another shape than the model's (a head for other classes? leave such tensors out of the file, e.g. with adaseg weights inspect to see them):\n  ${described.join('\n  ')}`,
      );
    }
    for (const k of mismatched) entries.delete(k);
    // NaN or infinite weights would train to NaN without a word: refused, naming the tensors.
    const nonFinite = [...entries].filter(([k, t]) => own[k] !== undefined && FLOATING.has(t.dtype) && !(t.isfinite().all().item() as boolean)).map(([k]) => k);
    if (nonFinite.length > 0) {
      throw new AdasegError(
        'non-finite',
        `loadWeights: ${file}: ${nonFinite.length} tensor(s) hold NaN or infinite values: ${nonFinite.slice(0, SHOW).join(', ')}${nonFinite.length > SHOW ? ', ...' : ''}`,
        {
          file,
          op: 'loadWeights',
        },
      );
    }
    const skippedMismatched = described;
    const result = target.loadStateDict(entries, { strict: false });
    const report: LoadWeightsReport = {
      file,
      loaded: [...entries.keys()].filter((k) => own[k] !== undefined).length,
      missingKeys: result.missingKeys,
      unexpectedKeys: [...result.unexpectedKeys].sort(),
      skippedMismatched,
    };
    if (options.strict && (report.missingKeys.length > 0 || report.unexpectedKeys.length > 0)) {
      throw new Error(`loadWeights: ${file} does not match the model exactly:\n${formatLoadReport(report)}`);
    }
    return report;
  });
}

export interface InitialWeightsOptions {
  /** Train on even when under half of the model's tensors match (--allow-partial). */
  allowPartial?: boolean;
  log?: (line: string) => void;
}

/** The prefix of adaseg's own checkpoints: their model tensors are `model.<PyTorch name>`. */
const CHECKPOINT_PREFIX = 'model.';

/**
 * The initial weights of a training run (`--weights`, `weights:`): loads them and refuses what would
 * silently train from scratch. A file none of whose tensors match is a usage error naming the
 * nearest names; an adaseg checkpoint (`model.` names) is recognised and its prefix stripped, with a
 * log line; under half of the model's tensors matched needs `allowPartial`.
 */
export function loadInitialWeights(model: torch.nn.Module, file: string, options: InitialWeightsOptions = {}): LoadWeightsReport {
  const log = options.log ?? (() => {});
  if (!existsSync(file)) throw new AdasegError('not-found', `weights ${file} do not exist`, { file, op: 'loadWeights' });
  let report = loadWeights(model, file);
  if (report.loaded === 0 && report.unexpectedKeys.some((k) => k.startsWith(CHECKPOINT_PREFIX))) {
    report = loadWeights(model, file, { stripPrefix: CHECKPOINT_PREFIX });
    if (report.loaded > 0) log(`weights: ${file} is an adaseg checkpoint: its '${CHECKPOINT_PREFIX}' prefix was stripped from the tensor names`);
  }
  const names = torch.tidy(() => Object.keys(model.stateDict())).filter((k) => !k.endsWith('num_batches_tracked'));
  if (report.loaded === 0) {
    throw new AdasegError(
      'usage',
      `weights ${file}: none of its ${report.unexpectedKeys.length} tensors matches the model's ${names.length} names, so training would start from scratch; nearest names: ${nearestNames(report.unexpectedKeys, names)}`,
      { file, op: 'loadWeights' },
    );
  }
  if (report.loaded < names.length / 2 && !options.allowPartial) {
    throw new AdasegError(
      'usage',
      `weights ${file}: only ${report.loaded} of the model's ${names.length} tensors match; pass --allow-partial to train from a partial load (e.g. a backbone only)\n${formatLoadReport(report)}`,
      { file, op: 'loadWeights' },
    );
  }
  log(formatLoadReport(report));
  return report;
}

/** 'file name ~ model name' for a few file names, each with the model name sharing its longest dotted tail. */
function nearestNames(fileKeys: string[], modelKeys: string[]): string {
  const tail = (a: string, b: string) => {
    const x = a.split('.').reverse();
    const y = b.split('.').reverse();
    let n = 0;
    while (n < x.length && n < y.length && x[n] === y[n]) n++;
    return n;
  };
  return fileKeys
    .slice(0, 3)
    .map((k) => {
      const best = modelKeys.reduce((b, m) => (tail(k, m) > tail(k, b) ? m : b), modelKeys[0] ?? '');
      return `'${k}' ~ '${best}'`;
    })
    .join(', ');
}

const FLOATING = new Set(['float16', 'bfloat16', 'float32', 'float64']);

function sameShape(a: Tensor, b: Tensor): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

/** Lists shown in full up to this many entries, then summarised. */
const SHOW = 20;

function list(title: string, keys: string[]): string {
  if (keys.length === 0) return '';
  const shown = keys.slice(0, SHOW).map((k) => `    ${k}`);
  if (keys.length > SHOW) shown.push(`    ... and ${keys.length - SHOW} more`);
  return `  ${title} (${keys.length}):\n${shown.join('\n')}\n`;
}

/** A human-readable report: counts, then the keys (BatchNorm's num_batches_tracked noted as harmless). */
export function formatLoadReport(report: LoadWeightsReport): string {
  const harmless = report.missingKeys.filter((k) => k.endsWith('num_batches_tracked'));
  const missing = report.missingKeys.filter((k) => !k.endsWith('num_batches_tracked'));
  let out = `loaded ${report.loaded} tensors from ${report.file}`;
  if (missing.length === 0 && report.unexpectedKeys.length === 0 && report.skippedMismatched.length === 0) {
    out += harmless.length > 0 ? ` (all weights matched; ${harmless.length} num_batches_tracked counters absent, harmless)` : ' (exact match)';
    return out;
  }
  out += '\n';
  out += list('missing from the file, left as initialised', missing);
  out += list('unexpected in the file, ignored', report.unexpectedKeys);
  out += list('skipped for a shape mismatch', report.skippedMismatched);
  if (harmless.length > 0) out += `  (${harmless.length} num_batches_tracked counters absent, harmless)\n`;
  return out.trimEnd();
}

/** Saves a model's state dict (parameters and persistent buffers) as safetensors, contiguous. */
export function saveWeights(model: torch.nn.Module, file: string, metadata?: Record<string, string>): void {
  torch.tidy(() => {
    const sd = model.stateDict();
    const out: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(sd)) out[k] = t.isContiguous() ? t : t.contiguous();
    torch.saveSafetensorsSync(file, out, metadata);
  });
}

/**
 * Python that turns a PyTorch checkpoint (.pth/.pt, a state dict or a dict holding one) into
 * safetensors, with nothing but torch: the safetensors format written by hand.
 */
export const CONVERT_SNIPPET = `import json, struct, sys, torch

def save_safetensors(tensors, path):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b''
        dtype = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float64: 'F64',
                 torch.int64: 'I64', torch.int32: 'I32', torch.uint8: 'U8', torch.bool: 'BOOL'}[t.dtype]
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(chunks))

src, dst = sys.argv[1], sys.argv[2]
ckpt = torch.load(src, map_location='cpu')
for key in ('state_dict', 'model', 'model_state'):        # common wrappers
    if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
        ckpt = ckpt[key]
if isinstance(ckpt, torch.nn.Module):
    ckpt = ckpt.state_dict()
tensors = {k: v for k, v in ckpt.items() if torch.is_tensor(v)}
save_safetensors(tensors, dst)
print(f'{len(tensors)} tensors -> {dst}')
`;
