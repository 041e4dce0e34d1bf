// `adaseg weights convert`: turns a PyTorch checkpoint (.pth/.pt) into safetensors with PyTorch's
// own names, so `--weights` / `weights:` can load it. Conversion needs Python with torch (torch.load
// is the only reader of pickled checkpoints); without it, the snippet is printed to run elsewhere.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type Parsed, UsageError } from './args.js';
import { CliError, type Command, type Io, mustExist } from './command.js';

const convert: Command = {
  name: 'convert',
  summary: 'convert a PyTorch checkpoint (.pth) into a safetensors weights file',
  usage:
    'adaseg weights convert IN.pth OUT.safetensors [options]\n\nKeys keep their PyTorch names (state_dict / model wrappers are unpacked). Load the result with\n`adaseg train --weights OUT.safetensors` or `weights:` in a config; missing and unexpected keys are reported.',
  options: [
    { name: 'python', type: 'string', value: 'EXE', description: 'Python with torch (default: /usr/bin/python3, else python3)' },
    { name: 'print-snippet', type: 'boolean', description: 'print the conversion script instead of running it' },
  ],
  async run({ positionals, options }: Parsed, io: Io): Promise<number> {
    const { CONVERT_SNIPPET } = await import('../models/weights.js');
    if (options['print-snippet']) {
      if (positionals.length > 0) throw new UsageError('--print-snippet takes no IN.pth or OUT.safetensors');
      io.out(io.json ? JSON.stringify({ snippet: CONVERT_SNIPPET }) : CONVERT_SNIPPET);
      return 0;
    }
    if (positionals.length !== 2) throw new UsageError('give IN.pth and OUT.safetensors');
    const [input, output] = positionals.map((p) => resolve(p));
    mustExist(input, 'input');
    if (!existsSync(dirname(output))) throw new CliError('not-found', `the folder of ${output} does not exist`, dirname(output));
    const python = (options.python as string | undefined) ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
    const work = mkdtempSync(join(tmpdir(), 'adaseg-convert-'));
    try {
      const script = join(work, 'convert.py');
      writeFileSync(script, CONVERT_SNIPPET);
      // Written beside the target, then renamed: never a half-written weights file.
      const tmp = join(dirname(output), `.${Date.now()}-${process.pid}.safetensors.tmp`);
      const r = spawnSync(python, [script, input, tmp], { encoding: 'utf8' });
      if (r.error || r.status !== 0) {
        rmSync(tmp, { force: true });
        const reason = r.error ? r.error.message : r.stderr.trim().split('\n').slice(-3).join('\n');
        throw new CliError(
          'conversion-failed',
          `conversion with ${python} failed: ${reason}\n(needs Python with torch; or run \`adaseg weights convert --print-snippet\` where torch is installed)`,
        );
      }
      renameSync(tmp, output);
      if (io.json) io.out(JSON.stringify({ input, output, message: r.stdout.trim() }));
      else io.out(r.stdout.trim());
      return 0;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};

const inspectWeights: Command = {
  name: 'inspect',
  summary: 'list the tensors of a safetensors file (name, dtype, shape)',
  usage: "adaseg weights inspect FILE.safetensors [--json]\n\n--json prints the header: every tensor's dtype, shape and data offsets, and the metadata.",
  async run({ positionals }: Parsed, io: Io): Promise<number> {
    if (positionals.length !== 1) throw new UsageError('give one safetensors file');
    const file = resolve(positionals[0]);
    mustExist(file, 'weights file');
    const torch = await import('@adaseg/torch');
    const header = torch.readSafetensorsHeaderSync(file);
    if (io.json) io.out(JSON.stringify(header, null, 2));
    else for (const [name, info] of Object.entries(header.tensors)) io.out(`${name}  ${info.dtype}  [${info.shape.join(', ')}]`);
    return 0;
  },
};

export const weightsCommand: Command = {
  name: 'weights',
  summary: 'weights files: convert PyTorch checkpoints, inspect safetensors',
  usage: 'adaseg weights <command> [options]',
  subcommands: [convert, inspectWeights],
};
