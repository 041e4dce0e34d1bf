// The annotation server's JSON API as the page uses it: every call carries the access token, and
// every refusal becomes an ApiError with the server's own message (shown to the person as is).

export interface Me {
  name: string;
  role: 'annotator' | 'readonly';
}

export interface RunSummary {
  name: string;
  strategy: string;
  seed: number;
  classNames: string[];
  palette: [number, number, number][];
  images: number;
  /** The round whose queries are being answered, or null. */
  current: number | null;
}

export interface QueryProgress {
  total: number;
  answered: number;
  open: number;
  leased: number;
  cancelled: number;
}

export type QueryKind = 'region-class' | 'pixel-paint';
export type QueryStatus = 'open' | 'answered' | 'cancelled';

export interface QuerySummary {
  id: number;
  run: string;
  round: number;
  imageId: string;
  kind: QueryKind;
  units: number;
  pixels: number;
  status: QueryStatus;
  leasedBy: string | null;
  leaseExpires: string | null;
  answeredBy: string | null;
  answeredAt: string | null;
}

export interface QueryDetail extends QuerySummary {
  imageIndex: number;
  width: number;
  height: number;
  unitList: { position: number; unit: number; pixels: number }[];
  classNames: string[];
  palette: [number, number, number][];
  ignore: number;
  strategy: string;
  checkpoint: string | null;
  answer: { classes: number[] } | null;
  links: { image: string; units: string; labels: string; prediction: string; predictionIds: string; uncertainty: string };
}

export interface QueueRound {
  run: string;
  round: number;
  progress: QueryProgress;
  queries: QuerySummary[];
}

export interface RoundProgress {
  round: number;
  phase: string;
  queries: QueryProgress;
  labelledUnits: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** "Refused (409 conflict): query 3 was already answered ..." */
  describe(): string {
    if (this.status === 0) return this.message;
    return `${this.status >= 500 ? 'Server error' : 'Refused'} (${this.status} ${this.code}): ${this.message}`;
  }
}

export class Api {
  constructor(readonly token: string) {}

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch (err) {
      throw new ApiError(0, 'network', `Cannot reach the annotation server (${(err as Error).message}). Is \`adaseg serve\` still running?`);
    }
    if (res.ok) return res;
    let code = 'http';
    let message = `${method} ${path} answered ${res.status} ${res.statusText}`;
    try {
      const json = (await res.json()) as { error?: { code?: string; message?: string } };
      if (json.error?.message) {
        message = json.error.message;
        code = json.error.code ?? code;
      }
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiError(res.status, code, message);
  }

  async json<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    return (await res.json()) as T;
  }

  /** A PNG decoded without colour management: the values the server wrote (ids, unit numbers). */
  async bitmap(path: string): Promise<ImageBitmap> {
    const res = await this.request('GET', path);
    const blob = await res.blob();
    try {
      return await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    } catch {
      throw new ApiError(0, 'decode', `${path} is not an image the browser can decode`);
    }
  }

  async pixels(path: string): Promise<ImageData> {
    return pixelsOf(await this.bitmap(path));
  }
}

export function pixelsOf(bitmap: ImageBitmap): ImageData {
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
}
