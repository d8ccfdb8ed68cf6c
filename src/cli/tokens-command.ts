import { Command, Option } from 'commander';
import { NotFoundError } from '../db/errors.js';
import { createRefreshTokenStore } from '../tokens/refresh-tokens.js';
import { CliError } from './cli-error.js';
import type { CommandContext } from './command-context.js';
import { createOutput } from './output.js';

export function tokensCommand(ctx: CommandContext): Command {
  const cmd = new Command('tokens').description('manage issued tokens');
  cmd
    .command('revoke')
    .description("end every refresh-token family of a user or a client (after a password reset or a leaked secret)")
    .option('--user <username>', "the user's refresh tokens, from every client")
    .option('--client <client_id>', "the client's refresh tokens, for every user")
    .addOption(new Option('--json', 'print JSON for scripts'))
    .action((o) =>
      ctx.withStore(async ({ db, config, users, clients }) => {
        if (Boolean(o.user) === Boolean(o.client)) throw new CliError('name exactly one of --user or --client');
        const store = createRefreshTokenStore(db, config.refreshTokens);
        let revoked: number;
        if (o.user) {
          const user = await users.findByUsername(o.user);
          if (!user) throw new NotFoundError(`no user named "${o.user}"`);
          revoked = await store.revokeAll({ userId: user.id }, 'admin');
        } else {
          if (!(await clients.findById(o.client))) throw new NotFoundError(`no client with id "${o.client}"`);
          revoked = await store.revokeAll({ clientId: o.client }, 'admin');
        }
        const who = o.user ? `user "${o.user}"` : `client "${o.client}"`;
        createOutput(Boolean(o.json), ctx.write).print(
          `Revoked ${revoked} refresh-token famil${revoked === 1 ? 'y' : 'ies'} of ${who}. Access tokens already issued expire on their own (at most SIGIL_ACCESS_TOKEN_TTL).`,
          { revoked_families: revoked, ...(o.user ? { user: o.user } : { client_id: o.client }) },
        );
      }),
    );
  return cmd;
}
