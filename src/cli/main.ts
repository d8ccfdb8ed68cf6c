import { Command, CommanderError } from 'commander';
import { type Config, loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { openCliDatabase } from '../db/open.js';
import { serve } from '../server.js';
import { describeFailure } from './cli-error.js';
import type { CliIo, CommandContext } from './command-context.js';
import { clientsCommand } from './clients-command.js';
import { keysCommand } from './keys-command.js';
import { rolesCommand } from './roles-command.js';
import { createOutput } from './output.js';
import { type OpenDatabase, withStore } from './store.js';
import { tokensCommand } from './tokens-command.js';
import { usersCommand } from './users-command.js';

export interface CliOptions {
  config?: () => Config;
  io?: CliIo;
  openDatabase?: OpenDatabase;
}

// stdin is read only when asked for: touching process.stdin creates its stream.
const processIo: CliIo = {
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
};

/** Every command writes through `io` and throws instead of exiting (commander's own errors too). */
function routeOutput(cmd: Command, io: CliIo): void {
  cmd.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  for (const sub of cmd.commands) routeOutput(sub, io);
}

export function buildProgram(o: CliOptions = {}, setExitCode: (code: number) => void = () => {}): Command {
  const getConfig = o.config ?? loadConfig;
  const open = o.openDatabase ?? openCliDatabase;
  const io = o.io ?? processIo;
  const ctx: CommandContext = {
    withStore: (fn) => withStore(getConfig(), fn, open),
    write: (s) => io.stdout.write(s),
    io,
    setExitCode,
  };
  const program = new Command('sigil').description('Sigil, an OAuth 2.0 authorization server').showHelpAfterError();

  program
    .command('serve')
    .description('run the server (migrates the database first)')
    .action(async () => {
      await serve(getConfig());
    });

  program
    .command('migrate')
    .description('apply pending database migrations')
    .option('--json', 'print JSON for scripts')
    .action(async (o) => {
      const db = await open(getConfig());
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
  routeOutput(program, io);
  return program;
}

/**
 * Runs one `sigil …` command line (without the node and script arguments) and gives its exit
 * code: every failure is one line on stderr and 1; commander's usage errors are its own text.
 */
export async function runSigil(args: string[], o: CliOptions = {}): Promise<number> {
  const io = o.io ?? processIo;
  let code = 0;
  try {
    await buildProgram(o, (c) => (code = c)).parseAsync(args, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    io.stderr.write(`sigil: ${describeFailure(err)}\n`);
    return 1;
  }
}

export async function main(argv = process.argv): Promise<void> {
  process.exitCode = await runSigil(argv.slice(2));
}
