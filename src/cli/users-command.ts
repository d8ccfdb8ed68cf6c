import { Command, Option } from 'commander';
import { NotFoundError } from '../db/errors.js';
import type { User } from '../users/user-repository.js';
import type { CommandContext } from './command-context.js';
import { createOutput, iso, table } from './output.js';
import { readNewPassword } from './read-password.js';

/** A user as scripts see them; never the password hash. */
export function userJson(u: User) {
  return { id: u.id, username: u.username, disabled: u.disabled, created_at: iso(u.createdAt), updated_at: iso(u.updatedAt) };
}

const json = () => new Option('--json', 'print JSON for scripts');
const passwordStdin = () =>
  new Option('--password-stdin', 'read the password from stdin (otherwise prompt without echo)');

export function usersCommand(ctx: CommandContext): Command {
  const cmd = new Command('users').description('manage users who log in with the password grant');

  cmd
    .command('create')
    .description('create a user')
    .requiredOption('--username <name>', 'login name (unique, case-insensitive)')
    .addOption(passwordStdin())
    .addOption(json())
    .action(async (o) => {
      const password = await readNewPassword(Boolean(o.passwordStdin));
      await ctx.withStore(async ({ userService }) => {
        const user = await userService.create(o.username, password);
        createOutput(o.json, ctx.write).print(`Created user "${user.username}" (id ${user.id}).`, userJson(user));
      });
    });

  cmd
    .command('set-password <username>')
    .description("replace a user's password")
    .addOption(passwordStdin())
    .addOption(json())
    .action(async (username: string, o) => {
      const password = await readNewPassword(Boolean(o.passwordStdin));
      await ctx.withStore(async ({ userService }) => {
        const user = await userService.setPassword(username, password);
        createOutput(o.json, ctx.write).print(`Password of "${user.username}" changed.`, userJson(user));
      });
    });

  cmd
    .command('list')
    .description('list users')
    .addOption(json())
    .action((o) =>
      ctx.withStore(async ({ users }) => {
        const all = await users.list();
        const rows = all.map((u) => [u.username, u.id, u.disabled ? 'disabled' : 'enabled', iso(u.createdAt) ?? '']);
        createOutput(o.json, ctx.write).print(
          all.length ? table([['USERNAME', 'ID', 'STATUS', 'CREATED'], ...rows]) : 'No users yet.',
          all.map(userJson),
        );
      }),
    );

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    cmd
      .command(`${name} <username>`)
      .description(`${name} a user`)
      .addOption(json())
      .action((username: string, o) =>
        ctx.withStore(async ({ users }) => {
          const user = await users.setDisabled(username, disabled);
          if (!user) throw new NotFoundError(`no user named "${username}"`);
          createOutput(o.json, ctx.write).print(`User "${user.username}" ${name}d.`, userJson(user));
        }),
      );
  }

  cmd
    .command('delete <username>')
    .description('delete a user')
    .addOption(json())
    .action((username: string, o) =>
      ctx.withStore(async ({ users }) => {
        if (!(await users.delete(username))) throw new NotFoundError(`no user named "${username}"`);
        createOutput(o.json, ctx.write).print(`User "${username}" deleted.`, { username, deleted: true });
      }),
    );

  return cmd;
}
