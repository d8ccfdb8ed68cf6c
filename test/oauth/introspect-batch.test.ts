import t from 'tap';
import { basicAuth, buildTestApp, FORM, form } from '../helpers/app.js';

// Concurrent introspections share status statements (src/db/batch.ts): each answer must still be
// about its own token, and a change committed before a request must be seen by it.

t.test('concurrent introspections: each answer is about its own token', async (t) => {
  const { app, seed, token, db } = await buildTestApp(t);
  const rs = await seed.client({ grantTypes: ['client_credentials'], mayIntrospect: true });
  const live = await seed.client({ grantTypes: ['client_credentials'] });
  const disabled = await seed.client({ grantTypes: ['client_credentials'] });
  const app1 = await seed.client({ grantTypes: ['password'] });
  await seed.user('uma', 'uma-password');
  await seed.user('vic', 'vic-password');
  const mint = async (c: { clientId: string; secret: string }) =>
    (await token({ grant_type: 'client_credentials' }, { authorization: basicAuth(c.clientId, c.secret) })).json()
      .access_token as string;
  const login = async (username: string) =>
    (
      await token(
        { grant_type: 'password', username, password: `${username}-password` },
        { authorization: basicAuth(app1.clientId, app1.secret) },
      )
    ).json().access_token as string;
  const post = (url: string, caller: { clientId: string; secret: string }, params: Record<string, string>) =>
    app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': FORM, authorization: basicAuth(caller.clientId, caller.secret) },
      payload: form(params),
    });

  const cases: { token: string; active: boolean; username?: string; why: string }[] = [];
  for (let i = 0; i < 12; i++) cases.push({ token: await mint(live), active: true, why: `live service token ${i}` });
  for (let i = 0; i < 4; i++) {
    const revoked = await mint(live);
    t.equal((await post('/revoke', live, { token: revoked })).statusCode, 200);
    cases.push({ token: revoked, active: false, why: `revoked token ${i}` });
  }
  cases.push({ token: await mint(disabled), active: false, why: 'token of a disabled client' });
  cases.push({ token: await login('uma'), active: true, username: 'uma', why: 'user token' });
  cases.push({ token: await login('vic'), active: false, why: 'token of a disabled user' });
  await db.query('update clients set disabled = true where client_id = $1', [disabled.clientId]);
  await db.query("update users set disabled = true where username = 'vic'");

  // Shuffled, all at once, twice over.
  const all = [...cases, ...cases].sort(() => Math.random() - 0.5);
  const answers = await Promise.all(all.map((c) => post('/introspect', rs, { token: c.token })));
  all.forEach((c, i) => {
    const body = answers[i]?.json();
    t.equal(body.active, c.active, c.why);
    if (c.active) {
      t.equal(body.username, c.username, `${c.why}: its own username, if any`);
      t.equal(body.jti, JSON.parse(Buffer.from(c.token.split('.')[1] ?? '', 'base64url').toString()).jti, `${c.why}: its own jti`);
    }
  });
});
