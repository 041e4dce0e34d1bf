#!/usr/bin/env node
// The `adaseg` command. Everything is in run.ts, so tests can run the CLI in-process too; this file
// adds what only a process has: the exit code, and clean messages for errors that escape run()
// (an error in a callback or a rejected promise nobody awaited), with the stack only under
// --verbose, as for every other failure.
import { errorInfo, run } from './run.js';

const argv = process.argv.slice(2);
const flags = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;

function fatal(err: unknown): void {
  process.stderr.write(`adaseg: error: ${errorInfo(err).message}\n`);
  if (flags.includes('--verbose') && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  if (flags.includes('--json')) process.stdout.write(`${JSON.stringify({ error: errorInfo(err) })}\n`);
  process.exit(1);
}
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
// `adaseg ... | head`: the reader went away; stop quietly instead of failing on EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  fatal(err);
});

process.exitCode = await run(argv);
