import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ON_POSTGRES } from '../helpers/db.js';
import { createCliSession, runCli } from '../helpers/cli.js';

// `sigil keys …` as an operator runs it: on PostgreSQL (DATABASE_URL and a key-encryption key
// from the environment) or on the embedded database (a data folder, and the generated key file).

/** One command in a process of its own, stderr trimmed: failures must be exactly one line. */
async function runSigil(args: string[], env: Record<string, string>, cwd: string) {
  const r = await runCli(args, { env, cwd });
  return { ...r, stderr: r.stderr.trim() };
}

interface KeyJson {
  kid: string;
  alg: string;
  state: string;
  kek_id: string;
}

t.test(`sigil keys on ${ON_POSTGRES ? 'PostgreSQL' : 'the embedded database'}`, async (t) => {
  const session = await createCliSession(t);
  const dataDir = session.env.SIGIL_DATA_DIR as string;
  const firstKek = session.env.SIGIL_KEY_ENCRYPTION_KEY as string; // PostgreSQL: from the environment
  const env: Record<string, string> = { SIGIL_DEMO: 'false', LOG_LEVEL: 'silent' };
  const sigil = async (args: string[], extra: Record<string, string> = {}) => {
    const r = await session.cli(args, { env: { ...env, ...extra } });
    return { ...r, stderr: r.stderr.trim() };
  };

  const empty = await sigil(['keys', 'list']);
  t.equal(empty.code, 0, empty.stderr);
  t.match(empty.stdout, /No signing keys yet/);

  const first = await sigil(['keys', 'rotate']);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /^Created key [\w-]{43} \(ES256\): published now, signs from \S+\.\nRunning instances apply the change within 30s\.\n$/);
  if (!ON_POSTGRES) {
    const kekFile = join(dataDir, 'key-encryption-key');
    t.equal(statSync(kekFile).mode & 0o777, 0o600, 'the embedded default generated its key-encryption key, mode 0600');
    env.SIGIL_KEY_ENCRYPTION_KEYS_OLD = readFileSync(kekFile, 'utf8').trim(); // for the rewrap below
  }

  const next = await sigil(['keys', 'rotate', '--json']);
  t.equal(next.code, 0, next.stderr);
  const nextJson = JSON.parse(next.stdout) as { changed: boolean; events: Array<{ type: string; kid: string }>; keys: KeyJson[] };
  t.equal(nextJson.changed, true);
  const pending = nextJson.events.find((e) => e.type === 'created')?.kid;
  t.match(nextJson.keys, [{ state: 'active' }, { kid: pending, state: 'pending', alg: 'ES256' }]);

  const again = await sigil(['keys', 'rotate']);
  t.match(again.stdout, new RegExp(`^Key ${pending} is already pending and signs from \\S+: nothing to do`));

  const now = await sigil(['keys', 'rotate', '--now', '--json']);
  t.equal(now.code, 0, now.stderr);
  const nowJson = JSON.parse(now.stdout) as { events: Array<{ type: string; kid: string }> };
  t.same(
    nowJson.events.map((e) => e.type),
    ['retired', 'dropped', 'created'],
  );
  const current = nowJson.events.find((e) => e.type === 'created')?.kid as string;

  const list = await sigil(['keys', 'list', '--json']);
  const keys = JSON.parse(list.stdout) as KeyJson[];
  t.match(keys, [
    { kid: current, state: 'active' },
    { state: 'retired', kek_id: /^[0-9a-f]{16}$/ },
  ]);
  t.notOk(/"d"|private/.test(list.stdout), 'no key material in the listing');
  const human = await sigil(['keys', 'list']);
  t.match(human.stdout, /^KID\s+ALG\s+STATE\s+SIGNS FROM\s+RETIRES\s+LEAVES JWKS\n/);
  t.match(human.stdout, new RegExp(`${current}\\s+ES256\\s+active`));

  const retired = keys[1]?.kid as string;
  const unconfirmed = await sigil(['keys', 'revoke', '--', retired]);
  t.equal(unconfirmed.code, 1);
  t.match(unconfirmed.stderr, /^sigil: revoking \S+ takes it out of the JWKS at once .*add --yes to confirm$/);
  const unknown = await sigil(['keys', 'revoke', 'no-such-kid', '--yes']);
  t.equal(unknown.code, 1);
  t.equal(unknown.stderr, 'sigil: no signing key with kid "no-such-kid"');
  // One kid in 64 starts with '-' (base64url): pasted without '--', it is still the kid.
  for (const dashed of ['-no-such-kid', '-hno-such-kid']) {
    const r = await sigil(['keys', 'revoke', dashed, '--yes']);
    t.equal(r.stderr, `sigil: no signing key with kid "${dashed}"`, `${dashed} is a kid, not an option`);
    t.equal(r.code, 1);
  }
  const dashedUnconfirmed = await sigil(['keys', 'revoke', '-no-such-kid']);
  t.match(dashedUnconfirmed.stderr, /add --yes to confirm$/, 'and --yes is still needed');
  const revoked = await sigil(['keys', 'revoke', '--yes', '--json', '--', retired]);
  t.equal(revoked.code, 0, revoked.stderr);
  t.match(JSON.parse(revoked.stdout), { changed: true, events: [{ type: 'revoked', kid: retired }] });

  // A new key-encryption key: rewrap with the old one listed, then the old one alone is refused.
  const newKek = randomBytes(32).toString('base64');
  const oldKek = ON_POSTGRES ? firstKek : (env.SIGIL_KEY_ENCRYPTION_KEYS_OLD as string);
  const rewrap = await sigil(['keys', 'rewrap', '--json'], { SIGIL_KEY_ENCRYPTION_KEY: newKek, SIGIL_KEY_ENCRYPTION_KEYS_OLD: oldKek });
  t.equal(rewrap.code, 0, rewrap.stderr);
  const rewrapped = JSON.parse(rewrap.stdout) as { rewrapped: string[]; current: string[] };
  t.same([...rewrapped.rewrapped].sort(), [current, retired].sort(), 'every stored key re-encrypted');
  t.same(rewrapped.current, []);
  const stale = await sigil(['keys', 'rotate'], { SIGIL_KEY_ENCRYPTION_KEY: oldKek, SIGIL_KEY_ENCRYPTION_KEYS_OLD: '' });
  t.equal(stale.code, 1);
  t.match(stale.stderr, /^sigil: signing key \S+ was encrypted with key-encryption key [0-9a-f]{16}, but \S+ holds [0-9a-f]{16}: set the key it was created with/);
  t.notOk(stale.stderr.includes('\n'), 'one line, no stack trace');
  const withNew = await sigil(['keys', 'rotate', '--json'], { SIGIL_KEY_ENCRYPTION_KEY: newKek, SIGIL_KEY_ENCRYPTION_KEYS_OLD: '' });
  t.equal(withNew.code, 0, withNew.stderr);
});

t.test('start-up refusals are one line', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'sigil-keys-cli-'));
  const serve = await runSigil(['serve'], { DATABASE_URL: 'postgres://sigil@127.0.0.1:1/sigil', LOG_LEVEL: 'silent' }, cwd);
  t.equal(serve.code, 1);
  t.match(serve.stderr, /^sigil: SIGIL_KEY_ENCRYPTION_KEY is required with DATABASE_URL \(.*\)$/, 'before connecting to anything');
  const bad = await runSigil(['keys', 'list'], { SIGIL_SIGNING_ALG: 'HS256', SIGIL_DATA_DIR: join(cwd, 'data') }, cwd);
  t.equal(bad.code, 1);
  t.equal(bad.stderr, 'sigil: SIGIL_SIGNING_ALG: must be one of ES256, EdDSA, RS256, PS256 (got "HS256")');
  const short = await runSigil(['keys', 'list'], { SIGIL_KEY_LEAD_TIME_SECONDS: '60', SIGIL_DATA_DIR: join(cwd, 'data') }, cwd);
  t.equal(short.code, 1);
  t.match(short.stderr, /^sigil: SIGIL_KEY_LEAD_TIME_SECONDS \(60\) must be at least/);
});
