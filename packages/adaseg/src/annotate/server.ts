// The annotation server: a JSON API over a run's label store for the people answering the active
// loop's queries (`adaseg serve`). Every /api call needs `Authorization: Bearer <token>` (tokens
// from `adaseg users add`); 'readonly' users can look, 'annotator' users can also lease, answer
// and release. A query is leased to one person at a time (the lease expires; an expired lease
// puts the query back in the queue) and answered once: the store checks and writes an answer in
// one transaction, so bad input or a second answer changes nothing.
//
// Errors: one type (HttpError) and one handler; a body is JSON of at most `bodyLimitBytes`;
// anything unexpected is logged here and answered with a generic 500 (no stack traces).
//
// The annotation studio (the web page, built from web/ into dist/web/) is served at `/` and
// `/assets/...` without a token: it asks for one and sends it with every /api call.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { serve, type ServerType } from '@hono/node-server';
import sharp from 'sharp';
import { OVERLAYS_INFO_KEY, overlayFileName, type OverlayKind } from '../report/overlays.js';
import { LabelStore, LabelStoreError, type Query, type QueryAnswer } from '../labels/store.js';
import { IGNORE_INDEX } from '../data/classes.js';
import { decodePng, readPngHeader } from '../data/png.js';
import { fromStoreError, HttpError } from './errors.js';
import { insideRoot, type ImageProvider } from './images.js';
import type { User, UserStore } from './users.js';

export interface AnnotateServerOptions {
  store: LabelStore;
  users: UserStore;
  /** The pool's images; without it the image route answers 503. */
  images?: ImageProvider;
  /** Default lease length (s), 300; a client may ask for 1..maxLeaseSeconds. */
  leaseSeconds?: number;
  maxLeaseSeconds?: number;
  /** Largest request body (bytes), 16 MiB by default (a base64 mask of a 2048x2048 image fits). */
  bodyLimitBytes?: number;
  /** Where unexpected errors are logged (default stderr). */
  log?: (line: string) => void;
  /** The clock (ms since the epoch) for showing leases; pass the store's when tests move it. */
  now?: () => number;
  /** The run's output folder, where the loop writes the overlays (default: the store file's folder). */
  outputDir?: string;
  /** The built web page (index.html and assets/); default dist/web of this package; null: no page. */
  webDir?: string | null;
}

type Env = { Variables: { user: User } };

const MAX_ID = 2 ** 31;

function parseId(raw: string): number {
  if (!/^\d{1,10}$/.test(raw) || Number(raw) < 1 || Number(raw) >= MAX_ID)
    throw new HttpError('bad-request', `query id must be a positive integer, got '${raw.slice(0, 40)}'`);
  return Number(raw);
}

async function jsonBody(c: Context<Env>): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError('bad-request', 'the request body must be JSON (Content-Type: application/json)');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError('bad-request', 'the request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError('bad-request', 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

function onlyKeys(body: Record<string, unknown>, allowed: readonly string[]): void {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length > 0)
    throw new HttpError('bad-request', `unknown field(s) ${extra.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}; allowed: ${allowed.join(', ')}`);
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 200) throw new HttpError('bad-request', `'${key}' must be a non-empty string`);
  return v;
}

function optionalInt(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new HttpError('bad-request', `'${key}' must be an integer in ${min}..${max}`);
  return v;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The current round of each run: its latest round whose queries are being answered. */
function currentRounds(store: LabelStore, run?: string): { run: string; round: number }[] {
  const runs = run !== undefined ? [store.run(run).name] : store.runs().map((r) => r.name);
  const out: { run: string; round: number }[] = [];
  for (const name of runs) {
    const querying = store.rounds(name).filter((r) => r.phase === 'querying');
    if (querying.length > 0) out.push({ run: name, round: querying[querying.length - 1].round });
  }
  return out;
}

function querySummary(q: Query, now: number) {
  const leased = q.leaseOwner !== null && (q.leaseExpires ?? 0) > now;
  return {
    id: q.id,
    run: q.run,
    round: q.round,
    imageId: q.imageId,
    kind: q.kind,
    units: q.units.length,
    pixels: q.pixels,
    status: q.status,
    leasedBy: leased ? q.leaseOwner : null,
    leaseExpires: leased ? new Date(q.leaseExpires!).toISOString() : null,
    answeredBy: q.answeredBy,
    answeredAt: q.answeredAt,
  };
}

function queryDetail(store: LabelStore, q: Query, now: number) {
  const info = store.run(q.run);
  return {
    ...querySummary(q, now),
    imageIndex: q.imageIndex,
    width: q.width,
    height: q.height,
    unitList: q.units.map((u, position) => ({ position, unit: u.unit, pixels: u.pixelIndices.length })),
    classNames: info.classNames,
    palette: info.palette,
    ignore: IGNORE_INDEX,
    strategy: q.strategy,
    checkpoint: q.checkpoint,
    // An answered region-class query: the class each unit got (read back from the label mask).
    answer: q.status === 'answered' && q.kind === 'region-class' ? { classes: regionClasses(store, q) } : null,
    links: {
      image: `/api/queries/${q.id}/image`,
      mask: `/api/queries/${q.id}/mask`,
      outline: `/api/queries/${q.id}/mask?outline=1`,
      units: `/api/queries/${q.id}/mask?format=rgb`,
      labels: `/api/queries/${q.id}/labels`,
      prediction: `/api/queries/${q.id}/prediction`,
      predictionIds: `/api/queries/${q.id}/prediction?format=ids`,
      uncertainty: `/api/queries/${q.id}/uncertainty`,
    },
  };
}

/** The stored class of each unit of a region-class query (its first pixel's; 255 when none). */
function regionClasses(store: LabelStore, q: Query): number[] {
  const mask = store.mask(q.run, q.imageId).data;
  return q.units.map((u) => (u.pixelIndices.length > 0 ? mask[u.pixelIndices[0]] : IGNORE_INDEX));
}

/** Gray PNG of the stored labels on the query's pixels (train ids; 255 elsewhere and where unlabelled). */
async function labelsPng(store: LabelStore, q: Query): Promise<Buffer> {
  const mask = store.mask(q.run, q.imageId).data;
  const out = new Uint8Array(q.width * q.height).fill(IGNORE_INDEX);
  for (const u of q.units) for (const p of u.pixelIndices) out[p] = mask[p];
  return grayPng(out, q.width, q.height);
}

const grayPng = (data: Uint8Array, width: number, height: number): Promise<Buffer> =>
  sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();

/**
 * Gray PNG: pixel = unit position + 1 inside the query's units (0 elsewhere), or 255 on unit
 * borders. `rgb`: an RGB PNG whose pixel is unit position + 1 as a 24-bit number (r * 65536 +
 * g * 256 + b; 0 outside), exact however many units the query has.
 */
async function maskPng(q: Query, outline: boolean, rgb = false): Promise<Buffer> {
  const W = q.width,
    H = q.height;
  const owner = new Int32Array(W * H).fill(-1);
  q.units.forEach((u, i) => {
    for (const p of u.pixelIndices) owner[p] = i;
  });
  if (rgb) {
    const out = new Uint8Array(W * H * 3);
    for (let p = 0; p < owner.length; p++) {
      const v = owner[p] + 1;
      out[p * 3] = (v >> 16) & 255;
      out[p * 3 + 1] = (v >> 8) & 255;
      out[p * 3 + 2] = v & 255;
    }
    return sharp(Buffer.from(out.buffer, out.byteOffset, out.byteLength), { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toBuffer();
  }
  const out = new Uint8Array(W * H);
  for (let p = 0; p < out.length; p++) {
    const o = owner[p];
    if (o < 0) continue;
    if (!outline) {
      out[p] = Math.min(254, o + 1);
      continue;
    }
    const x = p % W,
      y = (p - x) / W;
    const edge = x === 0 || y === 0 || x === W - 1 || y === H - 1 || owner[p - 1] !== o || owner[p + 1] !== o || owner[p - W] !== o || owner[p + W] !== o;
    if (edge) out[p] = 255;
  }
  return sharp(Buffer.from(out.buffer, out.byteOffset, out.byteLength), { raw: { width: W, height: H, channels: 1 } })
    .png()
    .toBuffer();
}

const png = (c: Context<Env>, data: Buffer) => c.body(new Uint8Array(data), 200, { 'Content-Type': 'image/png', 'Cache-Control': 'private, max-age=60' });

// ---- the web page ----

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

// The page holds an access token: it may run only its own scripts and talk only to this server.
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** The built page: index.html and the files of assets/, read once (no request path reaches the file system). */
interface WebPage {
  index: Buffer;
  assets: Map<string, { body: Buffer; type: string }>;
}

/** dist/web beside dist/annotate, or the package's dist/web when running from src/ (tsx). */
function defaultWebDir(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, '..', 'web'), join(here, '..', '..', 'dist', 'web')]) if (existsSync(join(candidate, 'index.html'))) return candidate;
  return null;
}

function loadWebPage(dir: string | null): WebPage | null {
  if (dir === null || !existsSync(join(dir, 'index.html'))) return null;
  const assets = new Map<string, { body: Buffer; type: string }>();
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const type = CONTENT_TYPES[extname(name)];
      if (type !== undefined) assets.set(name, { body: readFileSync(join(assetDir, name)), type });
    }
  }
  return { index: readFileSync(join(dir, 'index.html')), assets };
}

export function createAnnotateApp(options: AnnotateServerOptions): Hono<Env> {
  const { store, users } = options;
  const leaseDefault = options.leaseSeconds ?? 300;
  const leaseMax = options.maxLeaseSeconds ?? Math.max(3600, leaseDefault);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? Date.now;
  const app = new Hono<Env>();

  app.onError((err, c) => {
    let e: HttpError;
    if (err instanceof HttpError) e = err;
    else if (err instanceof LabelStoreError) e = fromStoreError(err);
    else if (err instanceof HTTPException && err.status === 413)
      e = new HttpError('too-large', `the request body is larger than ${options.bodyLimitBytes ?? 16 << 20} bytes`);
    else if (err instanceof HTTPException && err.status < 500) e = new HttpError('bad-request', err.message || 'bad request');
    else {
      log(`annotate server: ${c.req.method} ${c.req.path}: ${(err as Error)?.stack ?? String(err)}`);
      e = new HttpError('internal', 'internal server error (see the server log)');
    }
    if (e.status === 500 && err instanceof LabelStoreError) log(`annotate server: ${err.message}`);
    return c.json(e.toJSON(), e.status);
  });
  app.notFound((c) => c.json(new HttpError('not-found', `no route ${c.req.method} ${c.req.path}`).toJSON(), 404));

  const limit = options.bodyLimitBytes ?? 16 << 20;
  app.use(
    '/api/*',
    bodyLimit({
      maxSize: limit,
      onError: () => {
        throw new HttpError('too-large', `the request body is larger than ${limit} bytes`);
      },
    }),
  );
  app.use('/api/*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (m === null) throw new HttpError('unauthorized', 'missing access token: send "Authorization: Bearer <token>" (tokens come from `adaseg users add`)');
    const user = users.verify(m[1]);
    if (user === null) throw new HttpError('unauthorized', 'unknown access token');
    c.set('user', user);
    await next();
  });
  const annotator = (c: Context<Env>): User => {
    const user = c.get('user');
    if (user.role !== 'annotator')
      throw new HttpError('forbidden', `user '${user.name}' is ${user.role}: only annotators can lease, answer or release queries`);
    return user;
  };
  const runParam = (c: Context<Env>): string | undefined => {
    const run = c.req.query('run');
    if (run !== undefined && (run.length === 0 || run.length > 200)) throw new HttpError('bad-request', "'run' must be a run name");
    return run;
  };

  const page = loadWebPage(options.webDir === undefined ? defaultWebDir() : options.webDir);
  app.get('/', (c) => {
    if (page === null) {
      const where = options.webDir ? ` (looked in ${options.webDir})` : '';
      return c.text(
        `The annotation page is not built${where}: run \`npm run build\` in packages/adaseg (it bundles web/ into dist/web/). The JSON API is at /api.\n`,
        503,
        PAGE_HEADERS,
      );
    }
    return c.body(new Uint8Array(page.index), 200, { ...PAGE_HEADERS, 'Content-Type': CONTENT_TYPES['.html'], 'Cache-Control': 'no-cache' });
  });
  app.get('/assets/:name', (c) => {
    const name = c.req.param('name');
    const asset = page?.assets.get(name);
    if (asset === undefined) throw new HttpError('not-found', `no asset '${name.slice(0, 80)}'${page === null ? ' (the page is not built)' : ''}`);
    return c.body(new Uint8Array(asset.body), 200, { ...PAGE_HEADERS, 'Content-Type': asset.type, 'Cache-Control': 'no-cache' });
  });

  app.get('/api/me', (c) => c.json({ name: c.get('user').name, role: c.get('user').role }));

  app.get('/api/runs', (c) =>
    c.json({
      runs: store.runs().map((r) => ({
        name: r.name,
        strategy: r.strategy,
        seed: r.seed,
        units: r.units,
        classNames: r.classNames,
        palette: r.palette,
        images: r.images,
        current: currentRounds(store, r.name)[0]?.round ?? null,
      })),
    }),
  );

  // The queue: the queries of each run's current round.
  app.get('/api/queue', (c) => {
    const t = now();
    const rounds = currentRounds(store, runParam(c)).map(({ run, round }) => ({
      run,
      round,
      progress: store.queryProgress(run, round),
      queries: store.queries({ run, round }).map((q) => querySummary(q, t)),
    }));
    return c.json({ rounds });
  });

  // Progress per round (every round, all runs or one).
  app.get('/api/progress', (c) => {
    const run = runParam(c);
    const runs = run !== undefined ? [store.run(run).name] : store.runs().map((r) => r.name);
    return c.json({
      runs: runs.map((name) => ({
        run: name,
        rounds: store.rounds(name).map((r) => ({
          round: r.round,
          phase: r.phase,
          queries: store.queryProgress(name, r.round),
          labelledUnits: store.labelledUnits(name, { round: r.round }).length,
        })),
      })),
    });
  });

  // Lease: the given query, or the oldest free one of the current round(s).
  app.post('/api/lease', async (c) => {
    const user = annotator(c);
    const body = await jsonBody(c);
    onlyKeys(body, ['run', 'round', 'queryId', 'seconds']);
    const run = optionalString(body, 'run');
    const round = optionalInt(body, 'round', 0, 1_000_000);
    const queryId = optionalInt(body, 'queryId', 1, MAX_ID - 1);
    const seconds = optionalInt(body, 'seconds', 1, leaseMax) ?? leaseDefault;
    let q: Query | null = null;
    if (queryId !== undefined) q = store.lease(user.name, { seconds, queryId });
    else if (round !== undefined) {
      if (run === undefined) throw new HttpError('bad-request', "'round' needs 'run'");
      q = store.lease(user.name, { seconds, run: store.run(run).name, round });
    } else {
      for (const cur of currentRounds(store, run)) {
        q = store.lease(user.name, { seconds, run: cur.run, round: cur.round });
        if (q !== null) break;
      }
    }
    if (q === null) return c.json({ query: null, message: 'no open query to lease' });
    return c.json({ query: queryDetail(store, q, now()) });
  });

  app.get('/api/queries/:id', (c) => c.json({ query: queryDetail(store, store.query(parseId(c.req.param('id'))), now()) }));

  app.get('/api/queries/:id/image', async (c) => {
    const q = store.query(parseId(c.req.param('id')));
    if (options.images === undefined) throw new HttpError('unavailable', 'this server has no access to the pool images');
    const rgb = await options.images(q.run, { index: q.imageIndex, id: q.imageId, width: q.width, height: q.height });
    return png(
      c,
      await sharp(Buffer.from(rgb.data.buffer, rgb.data.byteOffset, rgb.data.byteLength), { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
        .png()
        .toBuffer(),
    );
  });

  app.get('/api/queries/:id/mask', async (c) => {
    const q = store.query(parseId(c.req.param('id')));
    const outline = c.req.query('outline');
    const format = c.req.query('format') ?? 'gray';
    if (format !== 'gray' && format !== 'rgb') throw new HttpError('bad-request', `'format' must be 'gray' or 'rgb', got '${format.slice(0, 40)}'`);
    return png(c, await maskPng(q, outline === '1' || outline === 'true', format === 'rgb'));
  });

  // What is stored for the query's pixels so far (an answered query's answer).
  app.get('/api/queries/:id/labels', async (c) => {
    const q = store.query(parseId(c.req.param('id')));
    return png(c, await labelsPng(store, q));
  });

  // The overlays: written by the loop (src/report/overlays.ts) into the output folder, named in the round's info.
  const outputDir = options.outputDir ?? dirname(store.file);
  const overlayFile = (q: Query, kind: OverlayKind): { file: string; bytes: Buffer } => {
    const what = kind === 'prediction' ? 'model prediction' : 'uncertainty map';
    const folder = store.round(q.run, q.round)?.info[OVERLAYS_INFO_KEY];
    if (typeof folder !== 'string') {
      throw new HttpError(
        'not-found',
        `query ${q.id} has no ${what}: round ${q.round} of run '${q.run}' was selected without overlays (the loop writes them for rounds with annotator: human)`,
      );
    }
    const name = `${folder}/${overlayFileName({ index: q.imageIndex, id: q.imageId }, kind)}`;
    const file = join(outputDir, name);
    if (!existsSync(file)) throw new HttpError('not-found', `the ${what} of query ${q.id} is missing: expected ${name} in the run folder`);
    if (!insideRoot(outputDir, file)) throw new HttpError('forbidden', `the ${what} of query ${q.id} is outside the run folder`);
    const bytes = readFileSync(file);
    const header = readPngHeader(bytes);
    if (header.width !== q.width || header.height !== q.height)
      throw new Error(`${file} is ${header.width}x${header.height}, query ${q.id} is ${q.width}x${q.height}`);
    return { file, bytes };
  };

  app.get('/api/queries/:id/prediction', async (c) => {
    const q = store.query(parseId(c.req.param('id')));
    const format = c.req.query('format') ?? 'palette';
    if (format !== 'palette' && format !== 'ids')
      throw new HttpError(
        'bad-request',
        `'format' must be 'palette' (class colours, index = train id) or 'ids' (gray, value = train id), got '${format.slice(0, 40)}'`,
      );
    const { file, bytes } = overlayFile(q, 'prediction');
    if (format === 'palette') return png(c, bytes);
    const decoded = decodePng(bytes);
    if (decoded.colorType !== 3 || decoded.bitDepth !== 8) throw new Error(`${file} is not an 8-bit palette PNG`);
    return png(c, await grayPng(decoded.data as Uint8Array, q.width, q.height));
  });

  app.get('/api/queries/:id/uncertainty', (c) => {
    const q = store.query(parseId(c.req.param('id')));
    return png(c, overlayFile(q, 'uncertainty').bytes);
  });

  app.post('/api/queries/:id/answer', async (c) => {
    const user = annotator(c);
    const id = parseId(c.req.param('id'));
    const body = await jsonBody(c);
    onlyKeys(body, ['classes', 'mask', 'seconds']);
    const seconds = body.seconds === undefined ? 0 : body.seconds;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0 || seconds > 86_400)
      throw new HttpError('bad-request', "'seconds' must be a number of seconds in 0..86400");
    let answer: QueryAnswer;
    if (body.classes !== undefined && body.mask !== undefined)
      throw new HttpError('bad-request', "send either 'classes' (region-class query) or 'mask' (pixel-paint query), not both");
    if (body.classes !== undefined) {
      const classes = body.classes;
      if (!Array.isArray(classes) || classes.length > 100_000 || !classes.every((v) => typeof v === 'number' && Number.isInteger(v)))
        throw new HttpError('bad-request', "'classes' must be an array of integer class ids (255 = none)");
      answer = { classes: classes as number[] };
    } else if (body.mask !== undefined) {
      if (typeof body.mask !== 'string' || !BASE64.test(body.mask))
        throw new HttpError('bad-request', "'mask' must be base64 of width x height bytes (train ids, 255 = unknown), row-major");
      answer = { mask: new Uint8Array(Buffer.from(body.mask, 'base64')) };
    } else throw new HttpError('bad-request', "an answer needs 'classes' (region-class query) or 'mask' (pixel-paint query)");
    const q = store.query(id);
    if (q.status === 'answered') throw new HttpError('conflict', `query ${id} was already answered by ${q.answeredBy} at ${q.answeredAt}`);
    if (q.status === 'cancelled') throw new HttpError('conflict', `query ${id} was cancelled (its round was closed)`);
    if (q.leaseOwner !== user.name)
      throw new HttpError(
        'conflict',
        `lease query ${id} before answering it${q.leaseOwner !== null && (q.leaseExpires ?? 0) > now() ? ` (it is leased by ${q.leaseOwner})` : ''}`,
      );
    const done = store.answer(id, user.name, answer, seconds);
    return c.json({ query: querySummary(done, now()), progress: store.queryProgress(done.run, done.round) });
  });

  // Skip and release both give the lease back (the query returns to the queue).
  for (const action of ['release', 'skip'] as const) {
    app.post(`/api/queries/:id/${action}`, (c) => {
      const user = annotator(c);
      const id = parseId(c.req.param('id'));
      store.release(id, user.name);
      return c.json({ query: querySummary(store.query(id), now()) });
    });
  }

  return app;
}

export interface RunningServer {
  url: string;
  port: number;
  server: ServerType;
  close(): Promise<void>;
}

/** Starts the server (host 127.0.0.1 and an ephemeral port by default). */
export function startAnnotateServer(options: AnnotateServerOptions & { port?: number; host?: string }): Promise<RunningServer> {
  const app = createAnnotateApp(options);
  const host = options.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: host }, (info: AddressInfo) => {
      const shown = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${shown}:${info.port}`,
        port: info.port,
        server,
        close: () =>
          new Promise<void>((res) => {
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => res());
          }),
      });
    });
    // Idle keep-alive sockets must outlive the clients' own idle timeout (undici: 4 s; browsers
    // longer): with Node's default of 5 s, a client slowed by a busy machine reuses a socket the
    // server has just closed and gets ECONNRESET for a request that never arrived.
    const http = server as unknown as { keepAliveTimeout: number; headersTimeout: number };
    http.keepAliveTimeout = 75_000;
    http.headersTimeout = 80_000;
    server.once('error', reject);
  });
}
