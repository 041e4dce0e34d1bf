// Option groups: options that mean the same on every command that takes them, declared once and
// attached to commands by listing their options (`options: [..., ...threadsGroup.options]`). A
// group that sets up the engine has `apply`, which the router runs after parsing and before the
// command does any work, for every command that declares the group's options (--device is to
// join ENGINE_GROUPS the same way).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { OptionSpec, Parsed } from './args.js';
import { CliError } from './command.js';

export interface OptionGroup {
  options: OptionSpec[];
  /** Acts on the parsed values before the command runs (only for commands that declare the group's options). */
  apply?(options: Parsed['options']): Promise<void>;
}

/** --threads N: intra-op threads of the engine, set before any work (train, eval, adapt, run, demo). */
export const threadsGroup: OptionGroup = {
  options: [
    {
      name: 'threads',
      type: 'integer',
      value: 'N',
      min: 1,
      description: "intra-op threads of the engine (default: libtorch's, usually the cores); 1 when the machine is shared",
    },
  ],
  async apply(options) {
    if (options.threads === undefined) return;
    const torch = await import('@adaseg/torch');
    torch.setNumThreads(options.threads as number);
  },
};

/** --seed N over the config's seed (train, adapt). */
export const seedGroup: OptionGroup = {
  options: [{ name: 'seed', type: 'integer', value: 'N', description: 'seed (overrides the config)' }],
};

/** --output DIR over the config's output folder (train, adapt, run; demo with its own default). */
export const outputGroup: OptionGroup = {
  options: [{ name: 'output', type: 'string', value: 'DIR', description: 'output folder (overrides the config)' }],
};

/** The groups that set up the engine, applied by the router. */
export const ENGINE_GROUPS: readonly OptionGroup[] = [threadsGroup];

/** Runs `apply` of every engine group whose options `declared` (a command's options) holds. */
export async function applyEngineGroups(declared: readonly OptionSpec[], options: Parsed['options']): Promise<void> {
  for (const group of ENGINE_GROUPS) if (group.apply && group.options.every((o) => declared.includes(o))) await group.apply(options);
}

/** --run DIR, an `adaseg run` output folder whose label store a command works on (serve, users, labels). */
export const labelStoreGroup: OptionGroup = {
  options: [{ name: 'run', type: 'string', value: 'DIR', required: true, description: "an 'adaseg run' output folder (holding labels.sqlite)" }],
};

/** The label store of --run DIR; a 'not-found' failure when the folder has none. */
export function labelStoreFile(options: Parsed['options']): string {
  const dir = resolve(String(options.run));
  const file = join(dir, 'labels.sqlite');
  if (!existsSync(file)) throw new CliError('not-found', `${dir} has no labels.sqlite: is it an 'adaseg run' output folder?`, file);
  return file;
}
