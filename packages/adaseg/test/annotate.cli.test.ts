import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LabelStore } from '../src/labels/store.js';
import { cli } from './helpers/cli.js';

test('adaseg users add/list/remove and adaseg serve: tokens open the API, Ctrl-C stops it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adaseg-serve-'));
  try {
    LabelStore.open(join(dir, 'labels.sqlite')).close();
    const added = await cli(['users', 'add', 'ada', '--role', 'annotator', '--run', dir, '--json']);
    assert.equal(added.code, 0, added.err);
    const { token } = JSON.parse(added.out) as { token: string };
    assert.match(token, /^ads_/);
    const listed = await cli(['users', 'list', '--run', dir]);
    assert.match(listed.out, /^ada\tannotator\t/m);
    assert.equal((await cli(['users', 'add', 'x', '--role', 'admin', '--run', dir])).code, 2);
    assert.equal((await cli(['users', 'list', '--run', join(dir, 'nothing')])).code, 1);

    const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', '--run', dir, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const first = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
    const { url } = JSON.parse(first.value as string) as { url: string };
    const me = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { name: string }).name, 'ada');
    assert.equal((await fetch(`${url}/api/me`)).status, 401);
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 0);

    assert.equal((await cli(['users', 'remove', 'ada', '--run', dir])).code, 0);
    assert.match((await cli(['users', 'list', '--run', dir])).out, /no users/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
