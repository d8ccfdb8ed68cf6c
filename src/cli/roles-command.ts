import { Command } from 'commander';
import type { Role, RoleService } from '../users/role-service.js';
import { CliError } from './cli-error.js';
import type { CommandContext } from './main.js';
import { collectWords, edited, jsonOption as json } from './options.js';
import { createOutput, iso, table } from './output.js';

/** A role as scripts see it (the admin API's fields: name and scopes). */
export function roleJson(r: Role) {
  return { id: r.id, name: r.name, scopes: r.scopes, version: r.version, created_at: iso(r.createdAt), updated_at: iso(r.updatedAt) };
}

const roleText = (r: Role) =>
  table([
    ['name:', r.name],
    ['id:', r.id],
    ['scopes:', r.scopes.join(' ') || '(none)'],
  ]);

async function allRoles(service: RoleService) {
  const all: Role[] = [];
  let after: string | undefined;
  do {
    const page = await service.list({ limit: 200, after });
    all.push(...page.items);
    after = page.next ?? undefined;
  } while (after);
  return all;
}

export function rolesCommand(ctx: CommandContext): Command {
  const cmd = new Command('roles').description('manage roles: named sets of scopes that users hold');

  cmd
    .command('create <name>')
    .description('create a role')
    .option('--scope <scopes>', 'its scopes, space-separated (repeatable)', collectWords)
    .addOption(json())
    .action((name: string, o) =>
      ctx.withStore(async ({ roleService }) => {
        const role = await roleService.create({ name, scopes: o.scope ?? [] });
        createOutput(o.json, ctx.write).print(`Created role "${role.name}".\n${roleText(role)}`, roleJson(role));
      }),
    );

  cmd
    .command('list')
    .description('list roles')
    .addOption(json())
    .action((o) =>
      ctx.withStore(async ({ roleService }) => {
        const all = await allRoles(roleService);
        createOutput(o.json, ctx.write).print(
          all.length ? table([['NAME', 'SCOPES'], ...all.map((r) => [r.name, r.scopes.join(' ') || '-'])]) : 'No roles yet.',
          all.map(roleJson),
        );
      }),
    );

  cmd
    .command('show <name>')
    .description('show a role')
    .addOption(json())
    .action((name: string, o) =>
      ctx.withStore(async ({ roleService }) => {
        const role = await roleService.get({ name });
        createOutput(o.json, ctx.write).print(roleText(role), roleJson(role));
      }),
    );

  cmd
    .command('update <name>')
    .description("change a role's scopes or name; its holders feel it at their next login or refresh")
    .option('--scope <scopes>', 'replace its scopes, space-separated ("" for none; repeatable)', collectWords)
    .option('--add-scope <scopes>', 'add scopes (repeatable)', collectWords)
    .option('--remove-scope <scopes>', 'remove scopes (repeatable)', collectWords)
    .option('--rename <new-name>', 'a new name (holders keep the role)')
    .addOption(json())
    .action((name: string, o) =>
      ctx.withStore(async ({ roleService }) => {
        if (!o.scope && !o.addScope && !o.removeScope && o.rename === undefined) {
          throw new CliError('nothing to change: see sigil roles update --help');
        }
        // Edits what was read, so the update names that version: a change made meanwhile is
        // refused rather than overwritten.
        const current = await roleService.get({ name });
        const scopes = o.scope || o.addScope || o.removeScope ? edited(o.scope ?? current.scopes, o.addScope, o.removeScope) : undefined;
        const role = await roleService.update({ id: current.id }, { scopes, name: o.rename }, { expectedVersion: current.version });
        createOutput(o.json, ctx.write).print(`Role "${role.name}" updated.\n${roleText(role)}`, roleJson(role));
      }),
    );

  cmd
    .command('delete <name>')
    .description('delete a role; its holders lose it at their next login or refresh')
    .addOption(json())
    .action((name: string, o) =>
      ctx.withStore(async ({ roleService }) => {
        const role = await roleService.delete({ name });
        createOutput(o.json, ctx.write).print(`Role "${role.name}" deleted.`, { name: role.name, deleted: true });
      }),
    );

  return cmd;
}
