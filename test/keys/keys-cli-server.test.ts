import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, type JSONWebKeySet } from 'jose';
import t from 'tap';
import { parseConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { createTestDatabase, ON_POSTGRES } from '../helpers/db.js';
import { runCli } from '../helpers/cli.js';

// A running server and `sigil keys` beside it. On PostgreSQL the server hears the CLI's NOTIFY;
// on the embedded database the CLI goes through the server's socket, where NOTIFY is not
// delivered, and the server's periodic reload (SIGIL_KEY_RELOAD_SECONDS) picks the change up.

t.test(`a running server serves the keys that \`sigil keys\` creates and revokes (${ON_POSTGRES ? 'PostgreSQL' : 'embedded'})`, async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'sigil-keys-server-'));
  let env: Record<string, string> = {
    SIGIL_DATA_DIR: join(cwd, 'data'),
    SIGIL_DEMO: 'false',
    LOG_LEVEL: 'silent',
    PORT: '0',
    SIGIL_KEY_RELOAD_SECONDS: '1',
    SIGIL_JWKS_MAX_AGE_SECONDS: '60',
  };
  if (ON_POSTGRES) {
    const { url } = await createTestDatabase(t);
    env = { ...env, DATABASE_URL: url as string, SIGIL_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  }
  const server = await startServer(parseConfig(env), { print: () => {} });
  t.teardown(() => server.close());
  const jwksUrl = `${server.url}/.well-known/jwks.json`;
  const kids = async () => ((await (await fetch(jwksUrl)).json()) as JSONWebKeySet).keys.map((k) => k.kid);
  /** Waits for the server to show the change (bounded by the test timeout), never for a fixed time. */
  const until = async (ok: (kids: (string | undefined)[]) => boolean) => {
    for (;;) {
      const current = await kids();
      if (ok(current)) return current;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const [first] = await kids();
  t.ok(first, 'the first start created a key');
  const res = await fetch(jwksUrl);
  t.equal(res.headers.get('cache-control'), 'public, max-age=60');
  // What docs/key-rotation.md tells resource servers to use.
  const remote = createRemoteJWKSet(new URL(jwksUrl), { cacheMaxAge: 60_000, cooldownDuration: 0 });
  t.ok(await remote({ alg: 'ES256', kid: first }), 'jose createRemoteJWKSet reads the JWKS');

  const rotated = await runCli(['keys', 'rotate', '--now', '--json'], { env, cwd });
  t.equal(rotated.code, 0, rotated.stderr);
  const created = (JSON.parse(rotated.stdout) as { events: Array<{ type: string; kid: string }> }).events.find(
    (e) => e.type === 'created',
  )?.kid;
  t.same(await until((k) => k.includes(created)), [created, first], 'the new key is served, the retired one still');
  t.ok(await remote({ alg: 'ES256', kid: created }), 'an unknown kid makes jose refetch, and it finds the new key');

  const revoked = await runCli(['keys', 'revoke', '--yes', '--', first as string], { env, cwd });
  t.equal(revoked.code, 0, revoked.stderr);
  t.same(await until((k) => !k.includes(first)), [created], 'the revoked key is gone from the running server');
});
