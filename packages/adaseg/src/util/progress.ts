// A progress bar with rate and ETA for long work. On a terminal it redraws one line; elsewhere
// (logs, CI) it prints a plain line at most every `logEverySeconds`.
export interface ProgressOptions {
  total: number;
  label: string;
  /** Unit shown with the rate. Default 'it'. */
  unit?: string;
  stream?: NodeJS.WriteStream;
  /** Plain-line interval when the stream is not a terminal. Default 10 s. */
  logEverySeconds?: number;
  /** Count already done when resuming (not counted in the rate). */
  start?: number;
  /** Nothing is printed when false. */
  enabled?: boolean;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export class ProgressBar {
  private readonly startedAt = performance.now();
  private readonly startCount: number;
  private current: number;
  private lastPrint = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private fields: Record<string, string | number> = {};

  constructor(private readonly options: ProgressOptions) {
    this.startCount = options.start ?? 0;
    this.current = this.startCount;
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
  }

  /** Items per second since this bar started. */
  get rate(): number {
    const elapsed = (performance.now() - this.startedAt) / 1000;
    return elapsed > 0 ? (this.current - this.startCount) / elapsed : 0;
  }

  /** Seconds left at the current rate. */
  get eta(): number {
    const rate = this.rate;
    return rate > 0 ? (this.options.total - this.current) / rate : Infinity;
  }

  /** Text of the bar as it would be printed now. */
  render(): string {
    const { total, label, unit = 'it' } = this.options;
    const fraction = total > 0 ? Math.min(1, this.current / total) : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const rate = this.rate;
    const rateText = rate >= 1 || rate === 0 ? `${rate.toFixed(2)} ${unit}/s` : `${(1 / rate).toFixed(2)} s/${unit}`;
    const extra = Object.entries(this.fields)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
      .join('  ');
    return `${label} ${bar} ${this.current}/${total} ${(fraction * 100).toFixed(0)}%  ${rateText}  ETA ${formatDuration(this.eta)}${extra ? `  ${extra}` : ''}`;
  }

  update(current: number, fields: Record<string, string | number> = {}): void {
    this.current = current;
    this.fields = { ...this.fields, ...fields };
    if (this.options.enabled === false) return;
    const now = performance.now();
    const interval = this.tty ? 100 : (this.options.logEverySeconds ?? 10) * 1000;
    if (now - this.lastPrint < interval && current < this.options.total) return;
    this.lastPrint = now;
    this.stream.write(this.tty ? `\r\x1b[2K${this.render()}` : `${this.render()}\n`);
  }

  tick(fields: Record<string, string | number> = {}): void {
    this.update(this.current + 1, fields);
  }

  finish(): void {
    if (this.options.enabled === false) return;
    this.stream.write(this.tty ? `\r\x1b[2K${this.render()}\n` : `${this.render()}\n`);
  }
}

function formatNumber(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1000 || a < 1e-3 ? v.toExponential(2) : v.toPrecision(4);
}
