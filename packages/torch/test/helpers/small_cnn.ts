// The small CNN of scripts/gen_nn_fixtures.py, written with our nn (same names, same order).
import * as torch from '../../src/index.js';

const { nn } = torch;

export class SmallCNN extends nn.Module {
  readonly enc1 = this.registerModule(
    'enc1',
    new nn.Sequential(
      new nn.Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1, bias: false }),
      new nn.BatchNorm2d({ numFeatures: 8 }),
      new nn.ReLU(),
    ),
  );
  readonly pool = this.registerModule('pool', new nn.MaxPool2d(2));
  readonly enc2 = this.registerModule(
    'enc2',
    new nn.Sequential(
      new nn.Conv2d({ inChannels: 8, outChannels: 16, kernelSize: 3, padding: 1, bias: false }),
      new nn.BatchNorm2d({ numFeatures: 16 }),
      new nn.ReLU(),
    ),
  );
  readonly drop = this.registerModule('drop', new nn.Dropout2d({ p: 0 }));
  readonly up = this.registerModule('up', new nn.Upsample({ scaleFactor: 2, mode: 'bilinear', alignCorners: false }));
  readonly dec = this.registerModule(
    'dec',
    new nn.Sequential(
      new nn.Conv2d({ inChannels: 24, outChannels: 8, kernelSize: 3, padding: 1, bias: false }),
      new nn.BatchNorm2d({ numFeatures: 8 }),
      new nn.ReLU(),
    ),
  );
  readonly head = this.registerModule('head', new nn.Conv2d({ inChannels: 8, outChannels: 4, kernelSize: 1 }));

  forward(x: torch.Tensor): torch.Tensor {
    return torch.tidy(() => {
      const e1 = this.enc1.forward(x);
      const e2 = this.enc2.forward(this.pool.forward(e1));
      const d = this.up.forward(this.drop.forward(e2));
      return this.head.forward(this.dec.forward(torch.cat([d, e1], 1)));
    });
  }
}

export interface TensorJson {
  shape: number[];
  dtype: string;
  values: number[];
}

export function fromJson(j: TensorJson): torch.Tensor {
  return torch.tensor(j.values, { shape: j.shape, dtype: j.dtype as torch.DType });
}

/** Largest |a-b| / (atol + rtol*|b|); ≤ 1 means within tolerance. */
export function closeness(a: torch.Tensor, b: TensorJson | torch.Tensor, rtol: number, atol: number): number {
  const av = Array.from(a.toTypedArray() as ArrayLike<number | bigint>, Number);
  const bv = 'values' in b ? b.values : Array.from(b.toTypedArray() as ArrayLike<number | bigint>, Number);
  if (av.length !== bv.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < av.length; i++) {
    const diff = Math.abs(av[i] - bv[i]);
    if (diff === 0) continue;
    worst = Math.max(worst, Number.isNaN(diff) ? Infinity : diff / (atol + rtol * Math.abs(bv[i])));
  }
  return worst;
}
