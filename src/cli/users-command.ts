import { createReadStream, statSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { UserAccount, UserChanges, UserService } from '../users/user-service.js';
import { CliError } from './cli-error.js';
import type { CommandContext } from './command-context.js';
import { collect, collectWords, edited, jsonOption as json } from './options.js';
import { createUserImporter, type ImportSummary } from '../users/user-import.js';
import { userView } from '../users/user-view.js';
import { createOutput, iso, table } from './output.js';
import { createProgressLine } from './progress-line.js';
import { readNewPassword } from './read-password.js';

/** A user as scripts see them; never the password hash. */
export function userJson(u: UserAccount) {
  // The admin API's view, plus the version scripts pass back as the expected one.
  return { ...userView(u), version: u.version };
}

function userText(u: UserAccount): string {
  return table([
    ['username:', u.username],
    ['id:', u.id],
    ['roles:', u.roles.join(' ') || '(none)'],
    ['scopes:', u.scopes.join(' ') || '(none)'],
    ['password:', u.hasPassword ? 'set' : 'none (cannot log in by password)'],
    ['status:', u.disabled ? 'disabled' : 'enabled'],
  ]);
}

const passwordStdin = () =>
  new Option('--password-stdin', 'read the password from stdin (otherwise prompt without echo)');

/** Every user, page by page (the CLI prints them all). */
async function allUsers(service: UserService, q: { usernamePrefix?: string; role?: string }) {
  const all: UserAccount[] = [];
  let after: string | undefined;
  do {
    const page = await service.list({ ...q, limit: 200, after });
    all.push(...page.items);
    after = page.next ?? undefined;
  } while (after);
  return all;
}

export function usersCommand(ctx: CommandContext): Command {
  const cmd = new Command('users').description('manage users who log in with the password grant');

  cmd
    .command('create')
    .description('create a user')
    .requiredOption('--username <name>', 'login name (unique, case-insensitive)')
    .addOption(passwordStdin())
    .option('--without-password', 'no password: the user cannot log in by password until one is set')
    .option('--role <name>', 'a role she holds (repeatable)', collect)
    .option('--scope <scopes>', 'scopes she holds directly, space-separated (repeatable)', collectWords)
    .option('--disabled', 'create her disabled')
    .addOption(json())
    .action(async (o) => {
      if (o.withoutPassword && o.passwordStdin) throw new CliError('--without-password and --password-stdin exclude each other');
      const password = o.withoutPassword ? null : await readNewPassword(Boolean(o.passwordStdin), ctx.io);
      await ctx.withStore(async ({ userService }) => {
        const user = await userService.create({
          username: o.username,
          password,
          roles: o.role ?? [],
          scopes: o.scope ?? [],
          disabled: Boolean(o.disabled),
        });
        createOutput(o.json, ctx.write).print(`Created user "${user.username}" (id ${user.id}).`, userJson(user));
      });
    });

  cmd
    .command('show <username>')
    .description('show a user, her roles and scopes')
    .addOption(json())
    .action((username: string, o) =>
      ctx.withStore(async ({ userService }) => {
        const user = await userService.get({ username });
        createOutput(o.json, ctx.write).print(userText(user), userJson(user));
      }),
    );

  cmd
    .command('update <username>')
    .description("change a user's roles, direct scopes or status")
    .option('--roles <names>', 'replace her roles, space-separated ("" for none)')
    .option('--add-role <name>', 'give her a role (repeatable)', collectWords)
    .option('--remove-role <name>', 'take a role away (repeatable)', collectWords)
    .option('--scopes <scopes>', 'replace her direct scopes, space-separated ("" for none)')
    .option('--add-scope <scopes>', 'give her scopes directly (repeatable)', collectWords)
    .option('--remove-scope <scopes>', 'take direct scopes away (repeatable)', collectWords)
    .option('--disable', 'disable her')
    .option('--enable', 'enable her')
    .addOption(json())
    .action((username: string, o) =>
      ctx.withStore(async ({ userService }) => {
        if (o.disable && o.enable) throw new CliError('--disable and --enable exclude each other');
        const words = (s: string) => s.split(/\s+/).filter(Boolean);
        // Add/remove edits what was read, so the update names that version: a change made
        // meanwhile (by the admin API, say) is refused rather than overwritten.
        const current = await userService.get({ username });
        const changes: UserChanges = {};
        if (o.roles !== undefined || o.addRole || o.removeRole) {
          changes.roles = edited(o.roles !== undefined ? words(o.roles) : current.roles, o.addRole, o.removeRole, true);
        }
        if (o.scopes !== undefined || o.addScope || o.removeScope) {
          changes.scopes = edited(o.scopes !== undefined ? words(o.scopes) : current.scopes, o.addScope, o.removeScope);
        }
        if (o.disable || o.enable) changes.disabled = Boolean(o.disable);
        if (Object.keys(changes).length === 0) throw new CliError('nothing to change: see sigil users update --help');
        const user = await userService.update({ id: current.id }, changes, { expectedVersion: current.version });
        createOutput(o.json, ctx.write).print(`User "${user.username}" updated.\n${userText(user)}`, userJson(user));
      }),
    );

  cmd
    .command('set-password <username>')
    .description("replace a user's password")
    .addOption(passwordStdin())
    .addOption(json())
    .action(async (username: string, o) => {
      const password = await readNewPassword(Boolean(o.passwordStdin), ctx.io);
      await ctx.withStore(async ({ userService }) => {
        const user = await userService.setPassword({ username }, password);
        createOutput(o.json, ctx.write).print(`Password of "${user.username}" changed.`, userJson(user));
      });
    });

  cmd
    .command('list')
    .description('list users')
    .option('--prefix <text>', 'only usernames starting with this (case-insensitive)')
    .option('--role <name>', 'only holders of this role')
    .addOption(json())
    .action((o) =>
      ctx.withStore(async ({ userService }) => {
        const all = await allUsers(userService, { usernamePrefix: o.prefix, role: o.role });
        const rows = all.map((u) => [
          u.username,
          u.id,
          u.disabled ? 'disabled' : 'enabled',
          u.roles.join(' ') || '-',
          iso(u.createdAt) ?? '',
        ]);
        createOutput(o.json, ctx.write).print(
          all.length ? table([['USERNAME', 'ID', 'STATUS', 'ROLES', 'CREATED'], ...rows]) : 'No users yet.',
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
        ctx.withStore(async ({ userService }) => {
          const user = await userService.update({ username }, { disabled });
          createOutput(o.json, ctx.write).print(`User "${user.username}" ${name}d.`, userJson(user));
        }),
      );
  }

  cmd
    .command('delete <username>')
    .description('delete a user')
    .addOption(json())
    .action((username: string, o) =>
      ctx.withStore(async ({ userService }) => {
        const user = await userService.delete({ username });
        createOutput(o.json, ctx.write).print(`User "${user.username}" deleted.`, { username: user.username, deleted: true });
      }),
    );

  cmd
    .command('import')
    .description('import users from JSON Lines: {"username", "password" or "password_hash", "disabled", "roles", "scopes"} (docs/user-import.md)')
    .requiredOption('--file <file>', 'the file to read, or - for stdin')
    .addOption(
      new Option('--on-conflict <mode>', 'when the username exists already').choices(['skip', 'update', 'fail']).default('skip'),
    )
    .option('--dry-run', 'check every line and report, write nothing')
    .addOption(json())
    .action((o) => {
      const stdin = o.file === '-';
      let size: number | undefined;
      if (!stdin) {
        try {
          const stat = statSync(o.file);
          if (!stat.isFile()) throw new CliError(`${o.file} is not a file`);
          size = stat.size;
        } catch (err) {
          if (err instanceof CliError) throw err;
          throw new CliError(`cannot read ${o.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
        }
      }
      return ctx.withStore(async ({ db, hasher }) => {
        // Large reads: fewer chunks to split; memory stays bounded by the chunk and the batch.
        const input = stdin ? ctx.io.stdin : createReadStream(o.file, { highWaterMark: 2 ** 20 });
        const progress = createProgressLine(ctx.io.stderr, size);
        const summary = await createUserImporter(db, hasher).run(input, {
          onConflict: o.onConflict,
          dryRun: Boolean(o.dryRun),
          onProgress: ({ lines }) => progress.update(lines, stdin ? undefined : (input as ReturnType<typeof createReadStream>).bytesRead),
          onRejected: o.json ? undefined : ({ line, reason }) => progress.note(`line ${line}: ${reason}`),
        });
        progress.done();
        createOutput(o.json, ctx.write).print(describeImport(summary), importJson(summary));
        // The summary is printed either way; the exit status says whether every line made it.
        if (summary.rejected > 0) ctx.setExitCode(1);
      });
    });

  return cmd;
}

export function importJson(s: ImportSummary) {
  return {
    dry_run: s.dryRun,
    lines: s.lines,
    imported: s.imported,
    updated: s.updated,
    skipped: s.skipped,
    rejected: s.rejected,
    rejections: s.rejections,
    weak: s.weak,
    weak_hashes: s.weakLines,
  };
}

function describeImport(s: ImportSummary): string {
  const verb = s.dryRun ? 'Dry run, nothing written: would import' : 'Imported';
  const lines = [
    `${verb} ${s.imported} users, updated ${s.updated}, skipped ${s.skipped} existing, rejected ${s.rejected} lines (of ${s.lines}).`,
  ];
  if (s.weak > 0) {
    lines.push(`${s.weak} imported with weak legacy hashes (replaced by argon2id at their first login):`);
    for (const w of s.weakLines) lines.push(`  line ${w.line}: ${w.reason}`);
    if (s.weak > s.weakLines.length) lines.push(`  … and ${s.weak - s.weakLines.length} more`);
  }
  if (s.rejected > s.rejections.length) lines.push(`Only the first ${s.rejections.length} rejected lines are listed in --json.`);
  return lines.join('\n');
}
