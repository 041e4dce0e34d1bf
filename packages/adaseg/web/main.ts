// The annotation studio: signs in with an access token, shows the current round's queue and the
// progress per round, and lets a person answer one leased query at a time (a class per region, or
// a painted mask), with the model's prediction and uncertainty as overlays. Everything goes
// through the server's JSON API; the server checks every answer again.
import { Api, ApiError, type Me, type QueryDetail, type QuerySummary, type QueueRound, type RoundProgress, type RunSummary } from './api.js';
import { View } from './view.js';
import { NONE, UNASSIGNED, Workspace } from './workspace.js';

const TOKEN_KEY = 'adaseg.token';
const RUN_KEY = 'adaseg.run';
const AUTO_SEND_KEY = 'adaseg.autoSend';
const HISTORY_KEY = 'adaseg.history';
const REFRESH_MS = 15_000;
const RENEW_MS = 60_000;

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`the page has no #${id}`);
  return e as T;
}

const el = {
  login: $('login'),
  loginForm: $<HTMLFormElement>('login-form'),
  token: $<HTMLInputElement>('token'),
  loginError: $('login-error'),
  studio: $('studio'),
  who: $('who'),
  signOut: $<HTMLButtonElement>('sign-out'),
  runPicker: $('run-picker'),
  run: $<HTMLSelectElement>('run'),
  error: $('error'),
  errorText: $('error-text'),
  errorClose: $<HTMLButtonElement>('error-close'),
  progress: $<HTMLTableElement>('progress'),
  queueTitle: $('queue-title'),
  queueEmpty: $('queue-empty'),
  queue: $<HTMLOListElement>('queue'),
  title: $('query-title'),
  queryState: $('query-state'),
  note: $('query-note'),
  timer: $('timer'),
  togglePrediction: $<HTMLInputElement>('toggle-prediction'),
  toggleUncertainty: $<HTMLInputElement>('toggle-uncertainty'),
  opacity: $<HTMLInputElement>('opacity'),
  usePrediction: $<HTMLButtonElement>('use-prediction'),
  undo: $<HTMLButtonElement>('undo'),
  overlayStatus: $('overlay-status'),
  paintBar: $('paint-bar'),
  toolBrush: $<HTMLInputElement>('tool-brush'),
  toolFill: $<HTMLInputElement>('tool-fill'),
  brushSize: $<HTMLInputElement>('brush-size'),
  brushSizeValue: $('brush-size-value'),
  canvasBox: $('canvas-box'),
  canvas: $<HTMLCanvasElement>('view'),
  classes: $('classes'),
  units: $<HTMLOListElement>('unit-list'),
  back: $<HTMLButtonElement>('back'),
  skip: $<HTMLButtonElement>('skip'),
  send: $<HTMLButtonElement>('send'),
  autoSend: $<HTMLInputElement>('auto-send'),
  autoSendLabel: $('auto-send-label'),
  status: $('status'),
  counts: $('counts'),
};

interface Current {
  detail: QueryDetail;
  ws: Workspace;
  /** Leased by this person and open: it can be answered. */
  editable: boolean;
  image: ImageBitmap;
  /** Time spent on it while the page was visible (ms), and since when it has been visible. */
  activeMs: number;
  visibleSince: number | null;
  /** A paint answer with unknown pixels waits for a second Enter. */
  confirmUnknown: boolean;
}

const state = {
  api: null as Api | null,
  me: null as Me | null,
  runs: [] as RunSummary[],
  run: null as string | null,
  queue: null as QueueRound | null,
  current: null as Current | null,
  /** Queries opened in this tab, oldest first (Back walks it). */
  history: [] as number[],
  /** Queries skipped in this tab: offered again only when nothing else is left. */
  skipped: new Set<number>(),
  tool: 'brush' as 'brush' | 'fill',
  paintClass: 0,
  brushSize: 4,
  show: { prediction: false, uncertainty: false, opacity: 0.55 },
  /** An API action is running: keys and buttons wait. */
  busy: false,
  /** Bumped by every query switch, so a slow load never replaces a newer one. */
  generation: 0,
};

const view = new View(el.canvas);

// ---------------------------------------------------------------- messages

function showError(message: string): void {
  el.errorText.textContent = message;
  el.error.classList.remove('hidden');
}

function clearError(): void {
  el.error.classList.add('hidden');
  el.errorText.textContent = '';
}

function setStatus(text: string): void {
  el.status.textContent = text;
}

/** Shows what went wrong; a refused token sends the person back to the sign-in form. */
function report(err: unknown): void {
  if (err instanceof ApiError) {
    if (err.status === 401) {
      signOut(`Signed out: ${err.message}. Sign in with a valid token.`);
      return;
    }
    showError(err.describe());
    return;
  }
  showError(`Something went wrong in the page: ${(err as Error)?.message ?? String(err)}`);
  console.error(err);
}

async function act<T>(what: () => Promise<T>): Promise<T | undefined> {
  if (state.busy) return undefined;
  state.busy = true;
  document.body.dataset.busy = 'true';
  try {
    return await what();
  } catch (err) {
    report(err);
    return undefined;
  } finally {
    state.busy = false;
    document.body.dataset.busy = 'false';
    updateButtons();
  }
}

// ---------------------------------------------------------------- sign in / out

function api(): Api {
  if (state.api === null) throw new Error('not signed in');
  return state.api;
}

function showLogin(message = ''): void {
  el.studio.classList.add('hidden');
  el.signOut.classList.add('hidden');
  el.runPicker.classList.add('hidden');
  el.who.textContent = '';
  el.login.classList.remove('hidden');
  el.loginError.textContent = message;
  el.token.value = '';
  el.token.focus();
}

function signOut(message = ''): void {
  localStorage.removeItem(TOKEN_KEY);
  state.api = null;
  state.me = null;
  state.current = null;
  view.clear();
  clearError();
  showLogin(message);
}

async function signIn(token: string, saved: boolean): Promise<void> {
  const candidate = new Api(token.trim());
  let me: Me;
  try {
    me = await candidate.json<Me>('GET', '/api/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      if (saved) localStorage.removeItem(TOKEN_KEY);
      showLogin(saved ? `Your saved token was refused (${err.message}). Paste a valid one.` : `That token was refused: ${err.message}.`);
      return;
    }
    showLogin(err instanceof ApiError ? err.describe() : String(err));
    return;
  }
  localStorage.setItem(TOKEN_KEY, candidate.token);
  state.api = candidate;
  state.me = me;
  el.login.classList.add('hidden');
  el.studio.classList.remove('hidden');
  el.signOut.classList.remove('hidden');
  el.who.textContent = `${me.name} (${me.role})`;
  clearError();
  try {
    await refresh();
    await openNext();
  } catch (err) {
    report(err);
  }
}

// ---------------------------------------------------------------- queue and progress

async function refresh(): Promise<void> {
  const a = api();
  const { runs } = await a.json<{ runs: RunSummary[] }>('GET', '/api/runs');
  state.runs = runs;
  const saved = localStorage.getItem(RUN_KEY);
  if (state.run === null || !runs.some((r) => r.name === state.run)) {
    state.run = (runs.find((r) => r.name === saved) ?? runs.find((r) => r.current !== null) ?? runs[0])?.name ?? null;
  }
  renderRuns();
  if (state.run === null) {
    state.queue = null;
    renderProgress([]);
    renderQueue();
    return;
  }
  const run = encodeURIComponent(state.run);
  const [queue, progress] = await Promise.all([
    a.json<{ rounds: QueueRound[] }>('GET', `/api/queue?run=${run}`),
    a.json<{ runs: { run: string; rounds: RoundProgress[] }[] }>('GET', `/api/progress?run=${run}`),
  ]);
  state.queue = queue.rounds[0] ?? null;
  renderProgress(progress.runs[0]?.rounds ?? []);
  renderQueue();
}

function renderRuns(): void {
  el.run.replaceChildren(
    ...state.runs.map((r) => {
      const o = document.createElement('option');
      o.value = r.name;
      o.textContent = `${r.name}${r.current !== null ? ` (round ${r.current} waiting)` : ''}`;
      o.selected = r.name === state.run;
      return o;
    }),
  );
  el.runPicker.classList.toggle('hidden', state.runs.length === 0);
}

function renderProgress(rounds: RoundProgress[]): void {
  const body = el.progress.tBodies[0];
  body.replaceChildren(
    ...rounds.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.round = String(r.round);
      const q = r.queries;
      const answered = document.createElement('td');
      if (q.total > 0) {
        const bar = document.createElement('progress');
        bar.max = q.total;
        bar.value = q.answered;
        answered.append(bar, ` ${q.answered}/${q.total}`);
      } else answered.textContent = r.labelledUnits > 0 ? `${r.labelledUnits} units` : '–';
      const cells = [String(r.round), r.phase];
      tr.append(
        ...cells.map((t) => Object.assign(document.createElement('td'), { textContent: t })),
        answered,
        ...[q.open, q.leased].map((n) => Object.assign(document.createElement('td'), { textContent: q.total > 0 ? String(n) : '–' })),
      );
      return tr;
    }),
  );
  if (rounds.length === 0) {
    const tr = document.createElement('tr');
    tr.append(Object.assign(document.createElement('td'), { colSpan: 5, textContent: 'No rounds yet.' }));
    body.append(tr);
  }
}

function queryLabel(q: QuerySummary): string {
  const what = q.kind === 'region-class' ? `${q.units} region${q.units === 1 ? '' : 's'}` : `paint ${q.pixels} px`;
  return `#${q.id} ${q.imageId} · ${what}`;
}

function statusBadge(q: QuerySummary): { text: string; leased: 'me' | 'other' | '' } {
  if (q.status === 'answered') return { text: `answered by ${q.answeredBy}`, leased: '' };
  if (q.status === 'cancelled') return { text: 'cancelled', leased: '' };
  if (q.leasedBy !== null) return q.leasedBy === state.me?.name ? { text: 'yours', leased: 'me' } : { text: `with ${q.leasedBy}`, leased: 'other' };
  return { text: state.skipped.has(q.id) ? 'skipped' : 'open', leased: '' };
}

function renderQueue(): void {
  const round = state.queue;
  if (round === null) {
    el.queueTitle.textContent = 'Queue';
    el.queueEmpty.textContent =
      state.run === null
        ? 'This label store has no runs yet.'
        : 'No round is waiting for answers. The loop writes queries when it selects a round with annotator: human; this page checks every 15 s.';
    el.queueEmpty.classList.remove('hidden');
    el.queue.replaceChildren();
    return;
  }
  const p = round.progress;
  el.queueTitle.textContent = `Queue: round ${round.round} (${p.answered}/${p.total} answered)`;
  el.queueEmpty.classList.add('hidden');
  el.queue.replaceChildren(
    ...round.queries.map((q) => {
      const li = document.createElement('li');
      li.dataset.queryId = String(q.id);
      li.dataset.status = q.status;
      const badge = statusBadge(q);
      li.dataset.leased = badge.leased;
      li.classList.toggle('current', state.current?.detail.id === q.id);
      li.title = 'Open this query';
      li.append(
        Object.assign(document.createElement('span'), { textContent: queryLabel(q) }),
        Object.assign(document.createElement('span'), { className: 'badge', textContent: badge.text }),
      );
      li.addEventListener('click', () => void act(() => openQuery(q.id)));
      return li;
    }),
  );
}

// ---------------------------------------------------------------- opening queries

const isAnnotator = () => state.me?.role === 'annotator';

/** Leases and opens the next query: one this person holds, else the oldest free one not skipped here. */
async function openNext(): Promise<void> {
  if (!isAnnotator()) {
    if (state.current === null) showNothing('You are a read-only user: click a query in the queue to look at it.');
    return;
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const queries = state.queue?.queries ?? [];
    const me = state.me!.name;
    const mine = queries.find((q) => q.status === 'open' && q.leasedBy === me);
    const free = queries.filter((q) => q.status === 'open' && q.leasedBy === null);
    const next = mine ?? free.find((q) => !state.skipped.has(q.id)) ?? free[0];
    if (next === undefined) {
      const leased = queries.filter((q) => q.status === 'open' && q.leasedBy !== null).length;
      showNothing(
        state.queue === null
          ? 'Nothing to answer yet.'
          : leased > 0
            ? `Every other query of round ${state.queue.round} is being answered (${leased} leased). This page checks again every 15 s.`
            : `Round ${state.queue.round} has no open query left. Thank you!`,
      );
      return;
    }
    if (next.leasedBy === null && state.skipped.has(next.id)) setStatus('Only skipped queries are left: here they come again.');
    try {
      await openQuery(next.id);
      return;
    } catch (err) {
      // Someone else took it between our look at the queue and the lease: look again.
      if (err instanceof ApiError && err.status === 409) {
        await refresh();
        continue;
      }
      throw err;
    }
  }
  showNothing('Could not lease a query (others took them first). Click one in the queue to try again.');
}

function showNothing(message: string): void {
  state.current = null;
  view.clear();
  el.title.textContent = 'No query';
  el.queryState.textContent = '';
  el.note.textContent = message;
  el.classes.replaceChildren();
  el.units.replaceChildren();
  el.paintBar.classList.add('hidden');
  el.timer.textContent = '';
  document.body.dataset.queryId = '';
  updateButtons();
  renderQueue();
}

/** Gives the current query back when leaving it unanswered (it returns to the queue). */
async function leaveCurrent(nextId: number | null): Promise<void> {
  const cur = state.current;
  if (cur === null || !cur.editable || cur.detail.id === nextId) return;
  try {
    await api().json('POST', `/api/queries/${cur.detail.id}/release`);
  } catch (err) {
    // An expired lease has nothing to give back.
    if (!(err instanceof ApiError && err.status === 409)) throw err;
  }
  cur.editable = false;
  renderQuery();
}

/**
 * Opens a query: an annotator leases it when it is open and free (or already theirs); anything
 * else (answered, cancelled, leased by someone else, a read-only user) is shown without editing.
 * `fromHistory`: opened by Back (the history keeps its order).
 */
async function openQuery(id: number, fromHistory = false): Promise<void> {
  await leaveCurrent(id);
  const a = api();
  const me = state.me!.name;
  // What the queue says about it (a query of an older round is looked up first).
  const summary: QuerySummary = state.queue?.queries.find((q) => q.id === id) ?? (await a.json<{ query: QueryDetail }>('GET', `/api/queries/${id}`)).query;
  let detail: QueryDetail;
  const canLease = isAnnotator() && summary.status === 'open' && (summary.leasedBy === null || summary.leasedBy === me);
  if (canLease) {
    const res = await a.json<{ query: QueryDetail | null }>('POST', '/api/lease', { queryId: id });
    if (res.query === null) throw new ApiError(409, 'conflict', `query ${id} could not be leased`);
    detail = res.query;
  } else {
    detail = (await a.json<{ query: QueryDetail }>('GET', `/api/queries/${id}`)).query;
  }
  const editable = isAnnotator() && detail.status === 'open' && detail.leasedBy === me;
  await show(detail, editable);
  // Going back walks the history without reordering it; opening anything else puts it last.
  if (!fromHistory && state.history[state.history.length - 1] !== id) {
    state.history = state.history.filter((h) => h !== id);
    state.history.push(id);
    sessionStorage.setItem(HISTORY_KEY, JSON.stringify(state.history.slice(-200)));
  }
  // The queue catches up in the background: the query can be answered right away.
  refresh().catch(report);
}

/** Loads a query's image, units, overlays (and stored answer) and shows it. */
async function show(detail: QueryDetail, editable: boolean): Promise<void> {
  const generation = ++state.generation;
  const a = api();
  const overlay = async (path: string): Promise<{ data: Uint8Array | null; error: string | null }> => {
    try {
      const px = await a.pixels(path);
      const data = new Uint8Array(px.width * px.height);
      for (let p = 0; p < data.length; p++) data[p] = px.data[p * 4];
      return { data, error: null };
    } catch (err) {
      if (err instanceof ApiError && err.status !== 401) return { data: null, error: err.message };
      throw err;
    }
  };
  const [image, units, prediction, uncertainty, stored] = await Promise.all([
    a.bitmap(detail.links.image),
    a.pixels(detail.links.units),
    overlay(detail.links.predictionIds),
    overlay(detail.links.uncertainty),
    detail.status === 'answered' && detail.kind === 'pixel-paint' ? overlay(detail.links.labels) : Promise.resolve({ data: null, error: null }),
  ]);
  if (generation !== state.generation) return;
  if (image.width !== detail.width || image.height !== detail.height)
    throw new Error(`the image of query ${detail.id} is ${image.width}x${image.height}, the query says ${detail.width}x${detail.height}`);
  const owner = new Int32Array(detail.width * detail.height);
  for (let p = 0; p < owner.length; p++) owner[p] = ((units.data[p * 4] << 16) | (units.data[p * 4 + 1] << 8) | units.data[p * 4 + 2]) - 1;
  const ws = new Workspace(detail, owner, prediction.data);
  if (detail.status === 'answered') ws.loadAnswer(detail.answer?.classes ?? null, stored.data);
  state.current = {
    detail,
    ws,
    editable,
    image,
    activeMs: 0,
    visibleSince: document.visibilityState === 'visible' ? performance.now() : null,
    confirmUnknown: false,
  };
  if (state.paintClass >= detail.classNames.length && state.paintClass !== NONE) state.paintClass = 0;
  view.show(ws, image, detail.palette, uncertainty.data);
  fitView();
  document.body.dataset.queryId = String(detail.id);
  document.body.dataset.prediction = prediction.data !== null ? 'loaded' : 'missing';
  document.body.dataset.uncertainty = uncertainty.data !== null ? 'loaded' : 'missing';
  el.togglePrediction.disabled = prediction.data === null;
  el.toggleUncertainty.disabled = uncertainty.data === null;
  const missing = [prediction.error && `prediction: ${prediction.error}`, uncertainty.error && `uncertainty: ${uncertainty.error}`].filter(Boolean);
  el.overlayStatus.textContent = missing.length > 0 ? `Overlays unavailable (${missing.join('; ')})` : '';
  renderQuery();
  clearError();
  setStatus(editable ? hint() : '');
}

function fitView(): void {
  const box = el.canvasBox.getBoundingClientRect();
  view.fit(Math.max(100, box.width - 8), Math.max(200, window.innerHeight * 0.68));
  draw();
}

function draw(): void {
  view.render(state.show);
}

// ---------------------------------------------------------------- the query panel

function hint(): string {
  const cur = state.current;
  if (cur === null) return '';
  if (cur.detail.kind === 'region-class') return 'Give the yellow region a class: click a class or press its key. Click a region to pick it.';
  return 'Paint the queried pixels (the unshaded area) with the brush or fill; A uses the prediction as a start.';
}

function renderQuery(): void {
  const cur = state.current;
  if (cur === null) return;
  const d = cur.detail;
  el.title.textContent = `Query #${d.id} · image ${d.imageId} · round ${d.round}`;
  let st: string;
  if (d.status === 'answered') st = `answered by ${d.answeredBy} at ${new Date(d.answeredAt!).toLocaleString()}`;
  else if (d.status === 'cancelled') st = 'cancelled (its round was closed)';
  else if (cur.editable) st = `yours until ${new Date(d.leaseExpires!).toLocaleTimeString()}`;
  else if (d.leasedBy !== null) st = `being answered by ${d.leasedBy}`;
  else st = 'open';
  el.queryState.textContent = st;
  el.note.textContent =
    (d.kind === 'region-class' ? `${d.unitList.length} region${d.unitList.length === 1 ? '' : 's'} to classify` : `paint ${d.pixels} pixels`) +
    (cur.editable
      ? ''
      : d.status === 'answered'
        ? ' · answers are final: shown read-only'
        : isAnnotator()
          ? ' · read-only here'
          : ' · you are a read-only user');
  el.paintBar.classList.toggle('hidden', d.kind !== 'pixel-paint');
  el.autoSendLabel.classList.toggle('hidden', d.kind !== 'region-class');
  renderClasses();
  renderUnits();
  updateButtons();
  renderQueue();
}

function swatch(c: readonly number[] | null): HTMLSpanElement {
  const s = document.createElement('span');
  s.className = 'swatch';
  s.style.background = c === null ? '#282828' : `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
  return s;
}

function keyName(index: number): string {
  if (index < 9) return String(index + 1);
  if (index < 18) return `⇧${index - 8}`;
  return '';
}

function renderClasses(): void {
  const cur = state.current;
  if (cur === null) return;
  const d = cur.detail;
  const buttons = d.classNames.map((name, i) => classButton(i, name, d.palette[i] ?? [0, 0, 0], keyName(i)));
  buttons.push(classButton(NONE, 'none', null, '0'));
  el.classes.replaceChildren(...buttons);
}

function classButton(cls: number, name: string, colour: readonly number[] | null, key: string): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'class-button';
  b.dataset.class = String(cls);
  b.title = cls === NONE ? 'None of the classes (void / unknown)' : `Class ${cls}: ${name}`;
  b.append(swatch(colour), name);
  if (key !== '') b.append(' ', Object.assign(document.createElement('kbd'), { textContent: key }));
  const cur = state.current;
  b.classList.toggle('active', cur?.detail.kind === 'pixel-paint' && state.paintClass === cls);
  b.disabled = cur === null || !cur.editable;
  b.addEventListener('click', () => chooseClass(cls));
  return b;
}

function className(cls: number): string {
  const d = state.current?.detail;
  if (cls === UNASSIGNED) return '?';
  if (cls === NONE) return 'none';
  return d?.classNames[cls] ?? `class ${cls}`;
}

function renderUnits(): void {
  const cur = state.current;
  if (cur === null || cur.detail.kind !== 'region-class') {
    el.units.replaceChildren();
    return;
  }
  const { ws, detail } = cur;
  el.units.replaceChildren(
    ...detail.unitList.map((u, i) => {
      const li = document.createElement('li');
      li.dataset.position = String(i);
      li.dataset.class = String(ws.classes[i]);
      li.classList.toggle('current', ws.currentUnit === i);
      const cls = ws.classes[i];
      li.append(swatch(cls === UNASSIGNED ? [255, 255, 255] : cls === NONE ? null : (detail.palette[cls] ?? [0, 0, 0])), `R${i + 1}: ${className(cls)}`);
      li.title = `Unit ${u.unit} (${u.pixels} px)`;
      li.addEventListener('click', () => {
        ws.currentUnit = i;
        renderUnits();
        draw();
      });
      return li;
    }),
  );
}

function updateButtons(): void {
  const cur = state.current;
  const editable = cur !== null && cur.editable && !state.busy;
  el.send.disabled = !editable;
  el.skip.disabled = !editable;
  el.usePrediction.disabled = !editable || cur?.ws.prediction === null;
  el.undo.disabled = !editable;
  const position = cur === null ? state.history.length : state.history.indexOf(cur.detail.id);
  el.back.disabled = state.busy || (position <= 0 && !(cur === null && state.history.length > 0));
  let counts = '';
  if (cur !== null && cur.editable) {
    if (cur.detail.kind === 'region-class') {
      const left = cur.ws.unassigned();
      counts = left === 0 ? 'Every region has a class: press Enter to send.' : `${left} of ${cur.ws.classes.length} regions still need a class.`;
    } else {
      const unknown = cur.ws.unknownPixels();
      counts = unknown === 0 ? 'Every queried pixel has a class: press Enter to send.' : `${unknown} of ${cur.ws.queried} queried pixels have no class yet.`;
    }
  }
  el.counts.textContent = counts;
}

/** A message about what just happened (the counts line says what is left). */
function announce(text: string): void {
  setStatus(text);
}

// ---------------------------------------------------------------- answering

function chooseClass(cls: number): void {
  const cur = state.current;
  if (cur === null) return;
  if (!cur.editable) {
    announce('This query is read-only here.');
    return;
  }
  if (cur.detail.kind === 'pixel-paint') {
    state.paintClass = cls;
    renderClasses();
    announce(`Painting with ${className(cls)}.`);
    return;
  }
  cur.ws.assign(cls);
  view.updateLabels();
  renderUnits();
  draw();
  updateButtons();
  if (el.autoSend.checked && cur.ws.unassigned() === 0) void act(sendAnswer);
}

function secondsSpent(cur: Current): number {
  const running = cur.visibleSince === null ? 0 : performance.now() - cur.visibleSince;
  return Math.round(cur.activeMs + running) / 1000;
}

async function sendAnswer(): Promise<void> {
  const cur = state.current;
  if (cur === null || !cur.editable) return;
  const { ws, detail } = cur;
  if (detail.kind === 'region-class') {
    const left = ws.unassigned();
    if (left > 0) {
      announce(`${left} region${left === 1 ? '' : 's'} still need${left === 1 ? 's' : ''} a class (press 0 for "none").`);
      return;
    }
  } else {
    const unknown = ws.unknownPixels();
    if (unknown > 0 && !cur.confirmUnknown) {
      cur.confirmUnknown = true;
      announce(`${unknown} queried pixels have no class: press Enter (or Send) again to send them as unknown.`);
      return;
    }
  }
  const seconds = Math.min(86_400, secondsSpent(cur));
  const res = await api().json<{ query: QuerySummary }>('POST', `/api/queries/${detail.id}/answer`, { ...ws.answer(), seconds });
  state.current = null;
  await refresh();
  await openNext();
  announce(`Query #${res.query.id} answered (${seconds.toFixed(1)} s).`);
}

async function skip(): Promise<void> {
  const cur = state.current;
  if (cur === null || !cur.editable) return;
  await api().json('POST', `/api/queries/${cur.detail.id}/skip`);
  state.skipped.add(cur.detail.id);
  state.current = null;
  await refresh();
  await openNext();
  announce(`Query #${cur.detail.id} skipped: it is back in the queue.`);
}

async function back(): Promise<void> {
  const cur = state.current;
  const position = cur === null ? state.history.length : state.history.indexOf(cur.detail.id);
  const previous = position > 0 ? state.history[position - 1] : undefined;
  if (previous === undefined) {
    announce('There is no previous query in this tab.');
    return;
  }
  await openQuery(previous, true);
}

function usePrediction(): void {
  const cur = state.current;
  if (cur === null || !cur.editable) return;
  if (!cur.ws.usePrediction()) {
    announce('There is no prediction for this query.');
    return;
  }
  cur.confirmUnknown = false;
  view.updateLabels();
  renderUnits();
  draw();
  updateButtons();
  announce('The prediction is the pre-label now: correct it, then send.');
}

function undo(): void {
  const cur = state.current;
  if (cur === null || !cur.editable) return;
  if (!cur.ws.undo()) {
    announce('Nothing to undo.');
    return;
  }
  view.updateLabels();
  renderUnits();
  draw();
  updateButtons();
}

// ---------------------------------------------------------------- painting and clicking

let stroke: { x: number; y: number } | null = null;

function brushRadius(): number {
  return state.brushSize / 2;
}

function paintTo(x: number, y: number): void {
  const cur = state.current!;
  const from = stroke ?? { x, y };
  const r = brushRadius();
  const step = Math.max(0.5, r / 2);
  const n = Math.max(1, Math.ceil(Math.hypot(x - from.x, y - from.y) / step));
  let rect: { x0: number; y0: number; x1: number; y1: number } | null = null;
  for (let i = stroke === null ? 0 : 1; i <= n; i++) {
    const t = i / n;
    const changed = cur.ws.paintDisc(from.x + (x - from.x) * t, from.y + (y - from.y) * t, r, state.paintClass);
    if (changed !== null)
      rect =
        rect === null
          ? changed
          : { x0: Math.min(rect.x0, changed.x0), y0: Math.min(rect.y0, changed.y0), x1: Math.max(rect.x1, changed.x1), y1: Math.max(rect.y1, changed.y1) };
  }
  stroke = { x, y };
  if (rect !== null) {
    cur.confirmUnknown = false;
    view.updateLabels(rect);
  }
}

el.canvas.addEventListener('pointerdown', (e) => {
  const cur = state.current;
  if (cur === null || e.button !== 0) return;
  const pt = view.toImage(e.clientX, e.clientY);
  if (pt === null) return;
  if (cur.detail.kind === 'region-class') {
    if (cur.ws.selectUnitAt(pt.p)) {
      renderUnits();
      draw();
    }
    return;
  }
  if (!cur.editable) return;
  if (state.tool === 'fill') {
    const rect = cur.ws.fill(pt.p, state.paintClass);
    if (rect === null) announce(cur.ws.owner[pt.p] < 0 ? 'Click inside the queried (unshaded) area to fill it.' : 'That area has this class already.');
    else {
      cur.confirmUnknown = false;
      view.updateLabels(rect);
      draw();
      updateButtons();
    }
    return;
  }
  el.canvas.setPointerCapture(e.pointerId);
  cur.ws.beginStroke();
  stroke = null;
  paintTo(pt.x, pt.y);
  draw();
});

el.canvas.addEventListener('pointermove', (e) => {
  const cur = state.current;
  if (cur === null) return;
  const pt = view.toImage(e.clientX, e.clientY);
  view.hover = pt === null ? null : { x: pt.x, y: pt.y, radius: state.tool === 'brush' ? brushRadius() : 0.5 };
  if (stroke !== null && pt !== null) paintTo(pt.x, pt.y);
  draw();
});

const endStroke = () => {
  if (stroke === null) return;
  stroke = null;
  updateButtons();
};
el.canvas.addEventListener('pointerup', endStroke);
el.canvas.addEventListener('pointercancel', endStroke);
el.canvas.addEventListener('pointerleave', () => {
  view.hover = null;
  draw();
});

// ---------------------------------------------------------------- controls

function setTool(tool: 'brush' | 'fill'): void {
  state.tool = tool;
  el.toolBrush.checked = tool === 'brush';
  el.toolFill.checked = tool === 'fill';
}

function setBrushSize(size: number): void {
  state.brushSize = Math.max(1, Math.min(64, Math.round(size)));
  el.brushSize.value = String(state.brushSize);
  el.brushSizeValue.textContent = String(state.brushSize);
}

function toggle(which: 'prediction' | 'uncertainty', on?: boolean): void {
  const box = which === 'prediction' ? el.togglePrediction : el.toggleUncertainty;
  if (box.disabled) {
    announce(`There is no ${which} for this query.`);
    return;
  }
  state.show[which] = on ?? !state.show[which];
  box.checked = state.show[which];
  draw();
}

el.loginForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const token = el.token.value.trim();
  if (token === '') {
    el.loginError.textContent = 'Paste a token first.';
    return;
  }
  void signIn(token, false);
});
el.signOut.addEventListener(
  'click',
  () =>
    void (async () => {
      try {
        await leaveCurrent(null);
      } catch {
        // Signing out never fails on a lease the server already dropped.
      }
      signOut('Signed out.');
    })(),
);
el.errorClose.addEventListener('click', clearError);
el.run.addEventListener('change', () => {
  void act(async () => {
    await leaveCurrent(null);
    state.current = null;
    state.run = el.run.value;
    localStorage.setItem(RUN_KEY, state.run);
    await refresh();
    await openNext();
  });
});
el.togglePrediction.addEventListener('change', () => toggle('prediction', el.togglePrediction.checked));
el.toggleUncertainty.addEventListener('change', () => toggle('uncertainty', el.toggleUncertainty.checked));
el.opacity.addEventListener('input', () => {
  state.show.opacity = Number(el.opacity.value) / 100;
  draw();
});
el.usePrediction.addEventListener('click', usePrediction);
el.undo.addEventListener('click', undo);
el.toolBrush.addEventListener('change', () => setTool('brush'));
el.toolFill.addEventListener('change', () => setTool('fill'));
el.brushSize.addEventListener('input', () => setBrushSize(Number(el.brushSize.value)));
el.send.addEventListener('click', () => void act(sendAnswer));
el.skip.addEventListener('click', () => void act(skip));
el.back.addEventListener('click', () => void act(back));
el.autoSend.checked = localStorage.getItem(AUTO_SEND_KEY) !== 'off';
el.autoSend.addEventListener('change', () => localStorage.setItem(AUTO_SEND_KEY, el.autoSend.checked ? 'on' : 'off'));

document.addEventListener('keydown', (e) => {
  if (state.api === null || e.altKey || e.metaKey) return;
  const target = e.target as HTMLElement | null;
  if (
    target !== null &&
    (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA') &&
    (target as HTMLInputElement).type !== 'checkbox' &&
    (target as HTMLInputElement).type !== 'radio' &&
    (target as HTMLInputElement).type !== 'range'
  )
    return;
  if (e.ctrlKey) {
    if (e.key.toLowerCase() === 'z') {
      e.preventDefault();
      undo();
    }
    return;
  }
  if (state.busy) return;
  const digit = /^Digit([0-9])$/.exec(e.code);
  if (digit !== null) {
    e.preventDefault();
    const n = Number(digit[1]);
    if (n === 0) return chooseClass(NONE);
    const cls = n - 1 + (e.shiftKey ? 9 : 0);
    const classes = state.current?.detail.classNames.length ?? 0;
    if (cls >= classes) return announce(`There is no class ${cls + 1} (this dataset has ${classes}).`);
    return chooseClass(cls);
  }
  switch (e.key) {
    case 'Enter':
      e.preventDefault();
      void act(sendAnswer);
      return;
    case 'Backspace':
      e.preventDefault();
      void act(back);
      return;
    case 'Tab':
      if (state.current?.detail.kind === 'region-class') {
        e.preventDefault();
        state.current.ws.moveUnit(e.shiftKey ? -1 : 1);
        renderUnits();
        draw();
      }
      return;
    case '[':
      return setBrushSize(state.brushSize - 1);
    case ']':
      return setBrushSize(state.brushSize + 1);
  }
  switch (e.key.toLowerCase()) {
    case 's':
      void act(skip);
      return;
    case 'a':
      return usePrediction();
    case 'p':
      return toggle('prediction');
    case 'u':
      return toggle('uncertainty');
    case 'b':
      return setTool('brush');
    case 'f':
      return setTool('fill');
    case 'z':
      return undo();
  }
});

// Time counts only while the page is visible.
document.addEventListener('visibilitychange', () => {
  const cur = state.current;
  if (cur === null) return;
  if (document.visibilityState === 'hidden' && cur.visibleSince !== null) {
    cur.activeMs += performance.now() - cur.visibleSince;
    cur.visibleSince = null;
  } else if (document.visibilityState === 'visible' && cur.visibleSince === null) cur.visibleSince = performance.now();
});

window.addEventListener('resize', () => {
  if (state.current !== null) fitView();
});

setInterval(() => {
  const cur = state.current;
  if (cur === null || !cur.editable) {
    el.timer.textContent = '';
    return;
  }
  const s = Math.floor(secondsSpent(cur));
  el.timer.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}, 1000);

// Keep the lease while someone works on a query; refresh the queue and progress now and then.
setInterval(() => {
  const cur = state.current;
  if (state.api === null || cur === null || !cur.editable || state.busy) return;
  api()
    .json<{ query: QueryDetail | null }>('POST', '/api/lease', { queryId: cur.detail.id })
    .then((res) => {
      if (res.query !== null && state.current?.detail.id === res.query.id) state.current.detail.leaseExpires = res.query.leaseExpires;
    })
    .catch((err) => {
      if (state.current?.detail.id === cur.detail.id) {
        cur.editable = false;
        renderQuery();
      }
      report(err);
    });
}, RENEW_MS);

setInterval(() => {
  if (state.api === null || state.busy) return;
  void (async () => {
    try {
      await refresh();
      if (state.current === null) await openNext();
    } catch (err) {
      report(err);
    }
  })();
}, REFRESH_MS);

// ---------------------------------------------------------------- start

try {
  state.history = JSON.parse(sessionStorage.getItem(HISTORY_KEY) ?? '[]') as number[];
} catch {
  state.history = [];
}
setBrushSize(state.brushSize);
const saved = localStorage.getItem(TOKEN_KEY);
if (saved !== null && saved !== '') void signIn(saved, true);
else showLogin();
