import t from 'tap';
import { buildApp } from '../../src/app.js';
import type { Database } from '../../src/db/database.js';
import { latestMigrationVersion } from '../../src/db/migrate.js';
import { basicAuth, FORM, form, TEST_ISSUER } from '../helpers/app.js';
import { createCliTarget, runCli } from '../helpers/cli.js';
import { ON_POSTGRES } from '../helpers/db.js';
import { createTestKeys } from '../helpers/keys.js';
import { parseConfig } from '../../src/config.js';

// The CLI and an app share one PostgreSQL database; the embedded case is covered by the
// server-process tests, as only one process may own a PGlite data folder.
t.test('tokens revoke --user / --client end refresh-token families', { skip: !ON_POSTGRES && 'needs PostgreSQL' }, async (t) => {
  const { env, database } = await createCliTarget(t);
  const db = database?.db as Database;
  const config = parseConfig({ SIGIL_ISSUER: TEST_ISSUER, LOG_LEVEL: 'silent' });
  const app = await buildApp({ config, db, keys: await createTestKeys(db, { config }), migrationVersion: latestMigrationVersion() });
  t.teardown(() => app.close());

  const created = JSON.parse(
    (await runCli(['clients', 'create', '--name', 'App', '--id', 'app', '--grant', 'password', '--json'], { env })).stdout,
  );
  await runCli(['users', 'create', '--username', 'lee', '--password-stdin'], { env, input: 'lee-password' });
  const login = async () =>
    (
      await app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': FORM, authorization: basicAuth('app', created.client_secret) },
        payload: form({ grant_type: 'password', username: 'lee', password: 'lee-password' }),
      })
    ).json().refresh_token as string;
  const refresh = (token: string) =>
    app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': FORM, authorization: basicAuth('app', created.client_secret) },
      payload: form({ grant_type: 'refresh_token', refresh_token: token }),
    });

  const a = await login();
  const b = await login();
  const byUser = await runCli(['tokens', 'revoke', '--user', 'LEE', '--json'], { env });
  t.equal(byUser.code, 0, byUser.stderr);
  t.same(JSON.parse(byUser.stdout), { revoked_families: 2, user: 'LEE' });
  t.equal((await refresh(a)).json().error, 'invalid_grant');
  t.equal((await refresh(b)).json().error, 'invalid_grant');

  const c = await login();
  const byClient = await runCli(['tokens', 'revoke', '--client', 'app'], { env });
  t.match(byClient.stdout, /Revoked 1 refresh-token family of client "app"/);
  t.equal((await refresh(c)).json().error, 'invalid_grant');

  for (const [args, message] of [
    [['tokens', 'revoke'], /exactly one of --user or --client/],
    [['tokens', 'revoke', '--user', 'x', '--client', 'y'], /exactly one/],
    [['tokens', 'revoke', '--user', 'nobody'], /no user named "nobody"/],
    [['tokens', 'revoke', '--client', 'nope'], /no client with id "nope"/],
  ] as const) {
    const res = await runCli([...args], { env });
    t.equal(res.code, 1);
    t.match(res.stderr, message);
  }
});
