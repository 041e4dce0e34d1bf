// The one atomic write of adaseg: the bytes go to a temp file beside the target (same folder, so
// the rename stays on one file system), which is then renamed over it. A reader sees the old file
// or the new one, never half of one; a write that fails leaves no temp file behind.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdasegError } from '../errors.js';

/** The temp file of a write to `file` (`<file>.tmp-<pid>`; readers of a folder skip them by TEMP_FILE). */
export const tempFileOf = (file: string): string => `${file}.tmp-${process.pid}`;

/** Names of temp files of writes in progress (or of a killed writer). */
export const TEMP_FILE = /\.tmp-\d+$/;

/** Writes text or bytes to `file` atomically (temp file, then rename). */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = tempFileOf(file);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Writes `value` as JSON (2-space indent, a final newline) to `file` atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Makes the output folder `dir` (and its parents); a file in its place is a clear error naming it. */
export function ensureOutputFolder(dir: string, what = 'output'): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      const isFile = (() => {
        try {
          return !statSync(dir).isDirectory();
        } catch {
          return false;
        }
      })();
      throw new AdasegError('config', `${what} ${dir} ${isFile ? 'is a file' : 'is inside a file'}, not a folder: choose another ${what} folder`, {
        file: dir,
        cause: err,
      });
    }
    throw err;
  }
}

/** `<target>.tmp-<pid>` (writeFileAtomic) or `<target>.tmp-<pid>-<hex>` (the engine's safetensors writes). */
const TEMP_OF = /^(.+)\.tmp-(\d+)(?:-[0-9a-f]+)?$/;

/** Whether a process with this id runs now (one of another user counts as running). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp files in `dir` of atomic writes that a killed process left behind: names
 * `<target>.tmp-<pid>[-<hex>]` whose target passes `isTarget`, written by a process that no longer
 * runs, or under this process's own pid (reused after the kill; the caller must have no write of
 * its own in progress in `dir`). A temp file of another live process (a write in progress) and
 * every other file stay. Returns the names removed.
 */
export function removeStaleTempFiles(dir: string, isTarget: (target: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const m = TEMP_OF.exec(entry.name);
    if (m === null || !entry.isFile() || !isTarget(m[1])) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && running(pid)) continue;
    rmSync(join(dir, entry.name), { force: true });
    removed.push(entry.name);
  }
  return removed.sort();
}
