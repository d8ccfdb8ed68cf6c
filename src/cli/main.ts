import { Command } from 'commander';
import { type Config, loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { openCliDatabase } from '../db/open.js';
import { closeOnSignals, startServer } from '../server.js';
import { describeFailure } from './cli-error.js';
import { clientsCommand } from './clients-command.js';
import { keysCommand } from './keys-command.js';
import { rolesCommand } from './roles-command.js';
import { createOutput } from './output.js';
import { type Store, withStore } from './store.js';
import { tokensCommand } from './tokens-command.js';
import { usersCommand } from './users-command.js';

export interface CommandContext {
  withStore<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  write(s: string): void;
}

export function buildProgram(getConfig: () => Config = loadConfig): Command {
  const ctx: CommandContext = {
    withStore: (fn) => withStore(getConfig(), fn),
    write: (s) => process.stdout.write(s),
  };
  const program = new Command('sigil')
    .description('Sigil, an OAuth 2.0 authorization server')
    .showHelpAfterError()
    .configureOutput({ outputError: (s, write) => write(s) });

  program
    .command('serve')
    .description('run the server (migrates the database first)')
    .action(async () => {
      const server = await startServer(getConfig());
      closeOnSignals(server);
    });

  program
    .command('migrate')
    .description('apply pending database migrations')
    .option('--json', 'print JSON for scripts')
    .action(async (o) => {
      const db = await openCliDatabase(getConfig());
      try {
        const applied = await migrate(db);
        createOutput(Boolean(o.json), ctx.write).print(
          applied.length ? `Applied ${applied.join(', ')}.` : 'The database is up to date.',
          { applied },
        );
      } finally {
        await db.close();
      }
    });

  program.addCommand(clientsCommand(ctx));
  program.addCommand(usersCommand(ctx));
  program.addCommand(rolesCommand(ctx));
  program.addCommand(keysCommand(ctx));
  program.addCommand(tokensCommand(ctx));
  return program;
}

/** Runs the CLI; every failure is one line on stderr and exit code 1. */
export async function main(argv = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`sigil: ${describeFailure(err)}\n`);
    process.exitCode = 1;
  }
}
