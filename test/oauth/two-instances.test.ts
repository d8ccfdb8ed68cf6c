import t from 'tap';
import { buildApp } from '../../src/app.js';
import { createPostgresDatabase } from '../../src/db/database.js';
import { latestMigrationVersion } from '../../src/db/migrate.js';
import { basicAuth, buildTestApp, FORM, form } from '../helpers/app.js';
import { ON_POSTGRES } from '../helpers/db.js';

// Two Sigil instances on one PostgreSQL database, each with its own connection pool.
t.test('a revocation made on one instance is seen by introspection on the other', { skip: !ON_POSTGRES && 'needs PostgreSQL' }, async (t) => {
  const a = await buildTestApp(t);
  const dbB = createPostgresDatabase(a.url, { poolSize: 2 });
  t.teardown(() => dbB.close());
  const b = await buildApp({ config: a.config, db: dbB, keys: a.keys, migrationVersion: latestMigrationVersion() });
  t.teardown(() => b.close());

  const rs = await a.seed.client({ grantTypes: ['client_credentials'], mayIntrospect: true });
  const svc = await a.seed.client({ grantTypes: ['client_credentials'] });
  const issued = await b.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': FORM, authorization: basicAuth(svc.clientId, svc.secret) },
    payload: form({ grant_type: 'client_credentials' }),
  });
  t.equal(issued.statusCode, 200, 'instance B authenticates a client created through A');
  const token = issued.json().access_token;
  const introspect = (app: typeof b) =>
    app.inject({
      method: 'POST',
      url: '/introspect',
      headers: { 'content-type': FORM, authorization: basicAuth(rs.clientId, rs.secret) },
      payload: form({ token }),
    });
  t.equal((await introspect(a.app)).json().active, true);
  const revoked = await a.app.inject({
    method: 'POST',
    url: '/revoke',
    headers: { 'content-type': FORM, authorization: basicAuth(svc.clientId, svc.secret) },
    payload: form({ token }),
  });
  t.equal(revoked.statusCode, 200);
  t.same((await introspect(b)).json(), { active: false }, 'B sees the revocation made on A at once');
});
