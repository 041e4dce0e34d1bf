// What the interleaved benchmarks (bench:nn here, bench:adapt, bench:select and bench:train in
// adaseg) share: our engine and its PyTorch peer each run as a child process spoken to in JSON
// lines (one command per line on stdin, one reply per line on stdout; peer_loop.py is the Python
// side), timed in turn so that the two never compete for the CPU. Knows nothing of what is timed.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Commands every worker answers besides its own: its peak RSS, and stop. */
export type ControlCommand = { cmd: 'rss' } | { cmd: 'quit' };

/** A bench script run with this flag is the worker of our side (see serveCommands). */
const WORKER_FLAG = '--worker';

export function isWorker(): boolean {
  return process.argv.includes(WORKER_FLAG);
}

/** A child process that answers each command with one line of JSON. */
export class Peer<Cmd extends { cmd: string }> {
  private readonly lines: AsyncIterator<string>;
  constructor(
    readonly name: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    child.stderr.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d}`));
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }
  async send<T>(cmd: Cmd | ControlCommand): Promise<T> {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error(`${this.name} exited early`);
    return JSON.parse(next.value) as T;
  }
  close(): void {
    this.child.stdin.end();
  }
}

export type Engine = 'ours' | 'pytorch';
const ENGINES: readonly Engine[] = ['ours', 'pytorch'];

/** Our side (the bench script itself, run as its worker) and the PyTorch side, spawned in that order. */
export class PeerPair<Cmd extends { cmd: string }> {
  readonly ours: Peer<Cmd>;
  readonly pytorch: Peer<Cmd>;
  constructor(script: string, peerScript: string, env: NodeJS.ProcessEnv) {
    this.ours = new Peer('ours', spawn(process.execPath, ['--import', 'tsx', script, WORKER_FLAG], { env }));
    this.pytorch = new Peer('pytorch', spawn('/usr/bin/python3', [peerScript], { env }));
  }
  /** Each engine in turn, ours first, never both at once. */
  async inTurn(fn: (engine: Engine, peer: Peer<Cmd>) => Promise<void>): Promise<void> {
    for (const engine of ENGINES) await fn(engine, this[engine]);
  }
  /** `rounds` rounds of inTurn: the engines interleaved, so a change in machine load hits both. */
  async interleave(rounds: number, fn: (engine: Engine, peer: Peer<Cmd>) => Promise<void>): Promise<void> {
    for (let r = 0; r < rounds; r++) await this.inTurn(fn);
  }
  /** Each process's own peak RSS, in MB. */
  async peakRssMb(): Promise<Record<Engine, number>> {
    const [ours, pytorch] = await Promise.all([this.ours.send<{ maxRssKb: number }>({ cmd: 'rss' }), this.pytorch.send<{ maxRssKb: number }>({ cmd: 'rss' })]);
    return { ours: ours.maxRssKb / 1024, pytorch: pytorch.maxRssKb / 1024 };
  }
  close(): void {
    this.ours.close();
    this.pytorch.close();
  }
}

type Handlers<Cmd extends { cmd: string }> = { [K in Cmd['cmd']]: (cmd: Cmd & { cmd: K }) => unknown };

/**
 * The worker's loop: each command on stdin answered on stdout by its handler's reply, `rss` by the
 * peak RSS; stops at `quit`, an unknown command or the end of stdin.
 */
export async function serveCommands<Cmd extends { cmd: string }>(handlers: Handlers<Cmd>): Promise<void> {
  // Each handler takes the command of its own name, which is how it is looked up below.
  const byName = handlers as unknown as Record<string, (cmd: Cmd) => unknown>;
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as Cmd | ControlCommand;
    let reply: unknown;
    if (Object.hasOwn(byName, cmd.cmd)) reply = await byName[cmd.cmd](cmd as Cmd);
    else if (cmd.cmd === 'rss') reply = { maxRssKb: process.resourceUsage().maxRSS };
    else break;
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The value after `--name` on the command line, else `fallback`. */
export function stringArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

export function hasFlag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** The options of the benches timed in rounds of iterations: --rounds, --iters, --threads and --json. */
export function readRoundOptions(defaults: { rounds: number; iters: number; threads: number }): {
  rounds: number;
  iters: number;
  threads: number;
  json: boolean;
} {
  return {
    rounds: numberArg('rounds', defaults.rounds),
    iters: numberArg('iters', defaults.iters),
    threads: numberArg('threads', defaults.threads),
    json: hasFlag('json'),
  };
}
