import { createReadStream, statSync } from 'node:fs';
import { Command, Option } from 'commander';
import { NotFoundError } from '../db/errors.js';
import { createUserImporter, type ImportSummary } from '../users/user-import.js';
import type { User } from '../users/user-repository.js';
import type { CommandContext } from './main.js';
import { CliError } from './cli-error.js';
import { createOutput, iso, table } from './output.js';
import { createProgressLine } from './progress-line.js';
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

  cmd
    .command('import')
    .description('import users from JSON Lines: {"username", "password" or "password_hash", "disabled"} (docs/user-import.md)')
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
        const input = stdin ? process.stdin : createReadStream(o.file);
        const progress = createProgressLine(process.stderr, size);
        const summary = await createUserImporter(db, hasher).run(input, {
          onConflict: o.onConflict,
          dryRun: Boolean(o.dryRun),
          onProgress: ({ lines }) => progress.update(lines, stdin ? undefined : (input as ReturnType<typeof createReadStream>).bytesRead),
          onRejected: o.json ? undefined : ({ line, reason }) => progress.note(`line ${line}: ${reason}`),
        });
        progress.done();
        createOutput(o.json, ctx.write).print(describeImport(summary), importJson(summary));
        // The summary is printed either way; the exit status says whether every line made it.
        if (summary.rejected > 0) process.exitCode = 1;
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
    ignored_roles_or_scopes: s.ignoredRolesOrScopes,
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
  if (s.ignoredRolesOrScopes > 0) lines.push(`${s.ignoredRolesOrScopes} lines named roles or scopes, which were not imported.`);
  if (s.rejected > s.rejections.length) lines.push(`Only the first ${s.rejections.length} rejected lines are listed in --json.`);
  return lines.join('\n');
}
