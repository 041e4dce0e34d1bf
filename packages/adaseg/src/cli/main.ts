#!/usr/bin/env node
// The `adaseg` command. Everything is in run.ts, so tests can run the CLI in-process too.
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2));
