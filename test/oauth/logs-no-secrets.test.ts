import { Writable } from 'node:stream';
import t from 'tap';
import { loggerOptions } from '../../src/logger.js';
import { basicAuth, buildTestApp } from '../helpers/app.js';

t.test('logs at trace level carry no password, secret, token or Authorization header', async (t) => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const base = loggerOptions('trace');
  const { seed, token } = await buildTestApp(t, { logger: { ...(base as object), stream } });
  const client = await seed.client({ grantTypes: ['client_credentials', 'password'], scopes: ['read'] });
  const password = 'Tr0ub4dor&3-unique-password';
  await seed.user('frank', password);

  const secrets = [client.secret, password, basicAuth(client.clientId, client.secret).slice(6)];
  const cc = await token({ grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, client.secret) });
  const pw = await token({ grant_type: 'password', username: 'frank', password, client_id: client.clientId, client_secret: client.secret });
  const bad = await token({ grant_type: 'password', username: 'frank', password: `${password}x`, client_id: client.clientId, client_secret: client.secret });
  await token({ grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, `${client.secret}!`) });
  t.equal(cc.statusCode, 200);
  t.equal(pw.statusCode, 200);
  t.equal(bad.statusCode, 400);
  secrets.push(cc.json().access_token, pw.json().access_token, `${password}x`, `${client.secret}!`);

  const log = lines.join('');
  t.ok(lines.length >= 4, 'requests were logged');
  t.match(log, /"path":"\/token"/);
  for (const secret of secrets) t.notOk(log.includes(secret), `log does not contain ${secret.slice(0, 6)}…`);
});
