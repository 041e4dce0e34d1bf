#!/usr/bin/env node
// The installed `adaseg` command. It lives outside dist/ so that `npm ci` links it on a fresh clone:
// npm skips a bin whose file does not exist yet, and dist/ is only built after the install.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('adaseg: the command is not built yet: run `npm run build` (./setup.sh does) from the repository root\n');
  process.exit(1);
}
await import(main.href);
