import t from 'tap';
import { buildApp } from '../../src/app.js';
import { latestMigrationVersion } from '../../src/db/migrate.js';
import { basicAuth, FORM, form, TEST_ISSUER } from '../helpers/app.js';
import { createCliSession } from '../helpers/cli.js';
import { createTestKeys } from '../helpers/keys.js';
import { parseConfig } from '../../src/config.js';

// The CLI and an app share one database, as an operator's CLI and the running server do.
t.test('tokens revoke --user / --client end refresh-token families', async (t) => {
  const { cli, database } = await createCliSession(t);
  const { db } = database;
  const config = parseConfig({ SIGIL_ISSUER: TEST_ISSUER, LOG_LEVEL: 'silent' });
  const app = await buildApp({ config, db, keys: await createTestKeys(db, { config }), migrationVersion: latestMigrationVersion() });
  t.teardown(() => app.close());

  const created = JSON.parse(
    (await cli(['clients', 'create', '--name', 'App', '--id', 'app', '--grant', 'password', '--json'])).stdout,
  );
  await cli(['users', 'create', '--username', 'lee', '--password-stdin'], { input: 'lee-password' });
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
  const byUser = await cli(['tokens', 'revoke', '--user', 'LEE', '--json']);
  t.equal(byUser.code, 0, byUser.stderr);
  t.same(JSON.parse(byUser.stdout), { revoked_families: 2, user: 'LEE' });
  t.equal((await refresh(a)).json().error, 'invalid_grant');
  t.equal((await refresh(b)).json().error, 'invalid_grant');

  const c = await login();
  const byClient = await cli(['tokens', 'revoke', '--client', 'app']);
  t.match(byClient.stdout, /Revoked 1 refresh-token family of client "app"/);
  t.equal((await refresh(c)).json().error, 'invalid_grant');

  for (const [args, message] of [
    [['tokens', 'revoke'], /exactly one of --user or --client/],
    [['tokens', 'revoke', '--user', 'x', '--client', 'y'], /exactly one/],
    [['tokens', 'revoke', '--user', 'nobody'], /no user named "nobody"/],
    [['tokens', 'revoke', '--client', 'nope'], /no client with id "nope"/],
  ] as const) {
    const res = await cli([...args]);
    t.equal(res.code, 1);
    t.match(res.stderr, message);
  }
});
