// Access tokens of the annotation server: one row per person (name, role, SHA-256 of the token)
// in a small table of the run's label store file (labels.sqlite). The token itself is shown once,
// by `adaseg users add`, and never stored.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { AdasegError } from '../errors.js';

export type Role = 'annotator' | 'readonly';
export const ROLES: readonly Role[] = ['annotator', 'readonly'];

export interface User {
  name: string;
  role: Role;
  createdAt: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Why a user name is not acceptable, or null when it is (the CLI checks names before opening the store). */
export function userNameProblem(name: string): string | null {
  return NAME.test(name) ? null : `user name '${name}' must be 1-64 letters, digits, '.', '_', '@' or '-' (starting with a letter or digit)`;
}

export class UserError extends AdasegError {
  constructor(message: string) {
    super('user', message);
    this.name = 'UserError';
  }
}

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export class UserStore {
  private readonly db: Database.Database;

  private constructor(readonly file: string) {
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS annotate_users (
      name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK (role IN ('annotator', 'readonly')),
      token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)`);
  }

  /** Opens the users table of an existing label store file. */
  static open(file: string): UserStore {
    if (!existsSync(file)) throw new UserError(`${file} does not exist: is this an 'adaseg run' output folder?`);
    return new UserStore(file);
  }

  close(): void {
    this.db.close();
  }

  /** Adds a person and returns their new token (shown once). */
  add(name: string, role: Role): string {
    const problem = userNameProblem(name);
    if (problem !== null) throw new UserError(problem);
    if (!ROLES.includes(role)) throw new UserError(`role must be one of ${ROLES.join(', ')}, got '${role}'`);
    const token = `ads_${randomBytes(24).toString('base64url')}`;
    try {
      this.db
        .prepare('INSERT INTO annotate_users (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)')
        .run(name, role, hashToken(token), new Date().toISOString());
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
        throw new UserError(`user '${name}' exists already (remove it first to get a new token)`);
      throw err;
    }
    return token;
  }

  remove(name: string): boolean {
    return this.db.prepare('DELETE FROM annotate_users WHERE name = ?').run(name).changes > 0;
  }

  list(): User[] {
    return this.db.prepare('SELECT name, role, created_at AS createdAt FROM annotate_users ORDER BY name').all() as User[];
  }

  /** The person a token belongs to, or null. */
  verify(token: string): User | null {
    if (typeof token !== 'string' || token.length < 8 || token.length > 200) return null;
    const row = this.db.prepare('SELECT name, role, created_at AS createdAt FROM annotate_users WHERE token_hash = ?').get(hashToken(token)) as
      User | undefined;
    return row ?? null;
  }
}
