// The one atomic write of adaseg: the bytes go to a temp file beside the target (same folder, so
// the rename stays on one file system), which is then renamed over it. A reader sees the old file
// or the new one, never half of one; a write that fails leaves no temp file behind.
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
