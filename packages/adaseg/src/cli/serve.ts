// `adaseg serve --run DIR [--port N]`: the annotation server over an `adaseg run` output folder
// (its labels.sqlite and, for the images, its config.json's pool). `adaseg users add|list|remove`:
// the access tokens of that server (stored hashed next to the labels).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type OptionSpec, type Parsed, UsageError } from './args.js';
import { CliError, type Command, type Io } from './command.js';
import { labelStoreFile as storeFile, labelStoreGroup } from './options.js';
import { noPositionals } from './parser.js';
import type { UserStore } from '../annotate/users.js';

const SERVE_OPTIONS: OptionSpec[] = [
  ...labelStoreGroup.options,
  { name: 'port', type: 'integer', value: 'N', description: 'port (default 8080; 0 = any free port)' },
  { name: 'host', type: 'string', value: 'HOST', description: 'address to listen on (default 127.0.0.1)' },
  { name: 'lease-seconds', type: 'integer', value: 'S', min: 1, description: 'how long a query stays leased to one person (default 300)' },
];

export const serveCommand: Command = {
  name: 'serve',
  summary: "serve the annotation API for an 'adaseg run' output folder (people answer the loop's queries)",
  usage:
    'adaseg serve --run DIR [--port N] [--host HOST]\n\nOpen the printed address in a browser for the annotation studio (the web page); it asks for a token,\nand so does every API call: create one with `adaseg users add NAME --role annotator --run DIR`.',
  options: SERVE_OPTIONS,
  async run({ positionals, options }: Parsed, io: Io): Promise<number> {
    noPositionals(positionals);
    if (options.port !== undefined && (options.port as number) > 65535) throw new UsageError(`--port must be a port number (0-65535), got ${options.port}`);
    const file = storeFile(options);
    const { LabelStore } = await import('../labels/store.js');
    const { UserStore, startAnnotateServer, datasetImages } = await import('../annotate/index.js');
    const dir = resolve(String(options.run));
    let images;
    const configFile = join(dir, 'config.json');
    if (existsSync(configFile)) {
      const { loadDataset } = await import('../data/formats/index.js');
      const { resizeTransforms } = await import('../experiment/config.js');
      const config = JSON.parse(readFileSync(configFile, 'utf8'));
      images = datasetImages(await loadDataset(config.data.pool), resizeTransforms(config));
    } else io.err(`warning: ${dir} has no config.json: query images cannot be served`);
    const store = LabelStore.open(file);
    const users = UserStore.open(file);
    const server = await startAnnotateServer({
      store,
      users,
      images,
      outputDir: dir,
      port: (options.port as number | undefined) ?? 8080,
      host: (options.host as string | undefined) ?? '127.0.0.1',
      leaseSeconds: options['lease-seconds'] as number | undefined,
      log: (line) => io.err(line),
    });
    const count = users.list().length;
    if (io.json) io.out(JSON.stringify({ url: server.url, port: server.port, users: count }));
    else {
      io.out(`annotation studio on ${server.url}/ (the page), API at ${server.url}/api (Ctrl-C to stop)`);
      io.out(
        count === 0
          ? `no users yet: create a token with \`adaseg users add NAME --role annotator --run ${dir}\` and send it as "Authorization: Bearer <token>"`
          : `${count} user(s); send a token from \`adaseg users add\` as "Authorization: Bearer <token>"`,
      );
    }
    await new Promise<void>((done) => process.once('SIGINT', () => done()));
    await server.close();
    users.close();
    store.close();
    return 0;
  },
};

/**
 * A `users` subcommand: checks it got its NAME (or none), then runs `work` on the run's user store,
 * closed afterwards whatever happens.
 */
function usersSubcommand(spec: {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec[];
  /** Whether it takes one user NAME (else no positional). */
  takesName: boolean;
  /** Checks the NAME before the store is opened (a bad name is a usage error, whatever the folder). */
  checkName?(name: string): Promise<void>;
  work(users: UserStore, name: string, options: Parsed['options'], io: Io): Promise<void> | void;
}): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    usage: spec.usage,
    options: spec.options,
    async run({ positionals, options }: Parsed, io: Io): Promise<number> {
      if (spec.takesName && positionals.length !== 1) throw new UsageError('expected one user NAME');
      if (!spec.takesName) noPositionals(positionals);
      await spec.checkName?.(positionals[0]);
      const { UserStore } = await import('../annotate/users.js');
      const users = UserStore.open(storeFile(options));
      try {
        await spec.work(users, positionals[0], options, io);
      } finally {
        users.close();
      }
      return 0;
    },
  };
}

const USERS_OPTIONS: OptionSpec[] = [
  ...labelStoreGroup.options,
  { name: 'role', type: 'string', value: 'ROLE', choices: ['annotator', 'readonly'], description: 'what the user may do (default annotator)' },
];

export const usersCommand: Command = {
  name: 'users',
  summary: 'access tokens of the annotation server',
  usage: 'adaseg users add|list|remove [NAME] --run DIR [--role annotator|readonly]',
  subcommands: [
    usersSubcommand({
      name: 'add',
      summary: 'add a user and print their token (shown once)',
      usage: 'adaseg users add NAME --run DIR [--role annotator|readonly]',
      options: USERS_OPTIONS,
      takesName: true,
      async checkName(name) {
        const { userNameProblem } = await import('../annotate/users.js');
        const problem = userNameProblem(name);
        if (problem !== null) throw new UsageError(problem);
      },
      work(users, name, options, io) {
        const role = ((options.role as string | undefined) ?? 'annotator') as 'annotator' | 'readonly';
        const token = users.add(name, role);
        if (io.json) io.out(JSON.stringify({ name, role, token }));
        else io.out(`user ${name} (${role}); token (shown once, keep it secret):\n${token}`);
      },
    }),
    usersSubcommand({
      name: 'list',
      summary: 'list the users',
      usage: 'adaseg users list --run DIR',
      options: labelStoreGroup.options,
      takesName: false,
      work(users, _name, _options, io) {
        const list = users.list();
        if (io.json) io.out(JSON.stringify({ users: list }));
        else io.out(list.length === 0 ? 'no users' : list.map((u) => `${u.name}\t${u.role}\t${u.createdAt}`).join('\n'));
      },
    }),
    usersSubcommand({
      name: 'remove',
      summary: 'remove a user (their token stops working)',
      usage: 'adaseg users remove NAME --run DIR',
      options: labelStoreGroup.options,
      takesName: true,
      work(users, name, _options, io) {
        if (!users.remove(name)) throw new CliError('not-found', `no user '${name}'`);
        io.out(io.json ? JSON.stringify({ removed: name }) : `removed ${name}`);
      },
    }),
  ],
};
