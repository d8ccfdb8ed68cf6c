import { Command, Option } from 'commander';
import { loadKeyEncryptionKeys } from '../keys/key-encryption-key.js';
import { createKeyRepository, type StoredKey } from '../keys/key-repository.js';
import { keyState } from '../keys/key-schedule.js';
import { changeJson, keyJson, newestFirst } from '../keys/key-view.js';
import { rewrapKeys } from '../keys/rewrap.js';
import { createKeyRotation, type KeyChangeResult } from '../keys/rotation.js';
import { CliError } from './cli-error.js';
import type { CommandContext } from './command-context.js';
import { createOutput, iso, table } from './output.js';

function keysTable(keys: StoredKey[], t: Date): string {
  if (keys.length === 0) return 'No signing keys yet: the server creates the first one when it starts.';
  const rows = newestFirst(keys).map((k) => [
    k.kid,
    k.alg,
    keyState(k, t),
    iso(k.activatesAt) ?? '',
    iso(k.retiresAt) ?? '-',
    iso(k.revokedAt ?? k.removesAt) ?? '-', // a revoked key left at once
  ]);
  return table([['KID', 'ALG', 'STATE', 'SIGNS FROM', 'RETIRES', 'LEAVES JWKS'], ...rows]);
}

function describeEvent(e: KeyChangeResult['events'][number], byKid: Map<string, StoredKey>): string {
  switch (e.type) {
    case 'created':
      return `Created key ${e.kid} (${(e.kid && byKid.get(e.kid)?.alg) ?? '?'}): published now, signs from ${iso(e.activatesAt)}.`;
    case 'promoted':
      return `Pending key ${e.kid} signs from now.`;
    case 'retired':
      return `Key ${e.kid} retired: it stays in the JWKS until ${iso(byKid.get(e.kid)?.removesAt)} so the tokens it signed keep verifying.`;
    case 'revoked':
      return `Key ${e.kid} revoked: it left the JWKS and the tokens it signed no longer verify.`;
    case 'dropped':
      return `Dropped pending key ${e.kid} (it never signed anything).`;
    case 'removed':
      return `Removed key ${e.kid} (past its retention).`;
    case 'already-pending':
      return `Key ${e.kid} is already pending and signs from ${iso(e.activatesAt)}: nothing to do (--now rotates at once).`;
    case 'already-revoked':
      return `Key ${e.kid} was already revoked.`;
  }
}

function describeChanges(result: KeyChangeResult, reloadSeconds: number): string {
  const byKid = new Map(result.keys.map((k) => [k.kid, k]));
  const lines = result.events.map((e) => describeEvent(e, byKid));
  if (result.changed) lines.push(`Running instances apply the change within ${reloadSeconds}s.`);
  return lines.join('\n');
}

const json = () => new Option('--json', 'print JSON for scripts');

export function keysCommand(ctx: CommandContext): Command {
  const cmd = new Command('keys').description('manage the keys that sign access tokens');

  cmd
    .command('list')
    .description('list signing keys with their state and dates')
    .addOption(json())
    .action((o) =>
      ctx.withStore(async ({ db }) => {
        const keys = await createKeyRepository(db).list();
        const t = new Date();
        createOutput(o.json, ctx.write).print(
          keysTable(keys, t),
          newestFirst(keys).map((k) => keyJson(k, t)),
        );
      }),
    );

  cmd
    .command('rotate')
    .description('create the next key, published for the full lead time before it signs')
    .option('--now', 'emergency: a new key signs at once, the current one retires (still published until its tokens expire)')
    .addOption(json())
    .action((o) =>
      ctx.withStore(async ({ db, config }) => {
        const rotation = createKeyRotation({ db, keys: config.keys, encryptionKeys: loadKeyEncryptionKeys(config) });
        const result = await rotation.rotate({ now: Boolean(o.now) });
        createOutput(o.json, ctx.write).print(
          describeChanges(result, config.keys.reloadIntervalSeconds),
          changeJson(result, new Date()),
        );
      }),
    );

  cmd
    .command('revoke <kid>')
    .description('compromised key: remove it from the JWKS at once, so the tokens it signed stop verifying')
    // A kid is a base64url thumbprint, and one in 64 starts with '-': pasted as it is, it is the
    // kid, not an unknown option (and '-h…' is not help: only --help is).
    .allowUnknownOption()
    .helpOption('--help')
    .option('--yes', 'confirm: this cannot be undone')
    .addOption(json())
    .action((kid: string, o) => {
      if (!o.yes) {
        throw new CliError(
          `revoking ${kid} takes it out of the JWKS at once and every token it signed stops verifying: add --yes to confirm`,
        );
      }
      return ctx.withStore(async ({ db, config }) => {
        const rotation = createKeyRotation({ db, keys: config.keys, encryptionKeys: loadKeyEncryptionKeys(config) });
        const result = await rotation.revoke(kid);
        createOutput(o.json, ctx.write).print(
          describeChanges(result, config.keys.reloadIntervalSeconds),
          changeJson(result, new Date()),
        );
      });
    });

  cmd
    .command('rewrap')
    .description('re-encrypt every private key with SIGIL_KEY_ENCRYPTION_KEY (old keys from SIGIL_KEY_ENCRYPTION_KEYS_OLD)')
    .addOption(json())
    .action((o) =>
      ctx.withStore(async ({ db, config }) => {
        const keks = loadKeyEncryptionKeys(config);
        const result = await rewrapKeys(db, keks);
        createOutput(o.json, ctx.write).print(
          `Re-encrypted ${result.rewrapped.length} key(s) with key-encryption key ${keks.current.id}` +
            ` (${result.current.length} already used it).`,
          { kek_id: keks.current.id, ...result },
        );
      }),
    );

  return cmd;
}
