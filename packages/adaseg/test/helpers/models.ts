// Helpers of the models tests: comparing tensors, and the PyTorch peer (scripts/model_peer.py run by
// Debian's /usr/bin/python3 with torchvision) when it is available.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '@adaseg/torch';

export const PYTHON = '/usr/bin/python3';
export const SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts');
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** Why the PyTorch peer cannot run here, or null when it can. */
export function peerUnavailable(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  try {
    execFileSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'pipe', timeout: 60_000 });
    return null;
  } catch (err) {
    return `${PYTHON} cannot import torch and torchvision: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** Largest |a - b| over all elements (Infinity on a shape mismatch). */
export function maxAbsDiff(a: torch.Tensor, b: torch.Tensor): number {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return Infinity;
  return torch.tidy(() => a.contiguous().float().sub(b.contiguous().float()).abs().max().item() as number);
}

/** Largest |x| (for scale). */
export function maxAbs(a: torch.Tensor): number {
  return torch.tidy(() => a.float().abs().max().item() as number);
}
