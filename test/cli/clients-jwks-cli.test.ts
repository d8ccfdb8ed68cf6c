import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import t from 'tap';
import { createCliSession } from '../helpers/cli.js';

t.test('clients create --auth private_key_jwt --jwks-file prints no secret; set-jwks replaces keys', async (t) => {
  const { cli } = await createCliSession(t);
  const dir = mkdtempSync(join(tmpdir(), 'sigil-jwks-'));
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const pub = join(dir, 'keys.json');
  writeFileSync(pub, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }));
  const created = await cli(['clients', 'create', '--name', 'Svc', '--grant', 'client_credentials', '--auth', 'private_key_jwt', '--jwks-file', pub, '--scope', 'read', '--json']);
  t.equal(created.code, 0, created.stderr);
  const c = JSON.parse(created.stdout);
  t.type(c.client_id, 'string');
  t.equal(c.client_secret, undefined, 'no client_secret');
  t.equal(c.token_endpoint_auth_method, 'private_key_jwt');
  t.equal(c.jwks.keys[0].kid, 'k1');

  const priv = join(dir, 'private.json');
  writeFileSync(priv, JSON.stringify({ keys: [await exportJWK(privateKey)] }));
  const refused = await cli(['clients', 'set-jwks', c.client_id, '--jwks-file', priv]);
  t.not(refused.code, 0, 'a private key is refused');
  t.match(refused.stderr, /private key members/);

  const uri = await cli(['clients', 'set-jwks', c.client_id, '--jwks-uri', 'https://svc.example.com/jwks.json', '--json']);
  t.equal(uri.code, 0, uri.stderr);
  t.equal(JSON.parse(uri.stdout).jwks_uri, 'https://svc.example.com/jwks.json');
  const http = await cli(['clients', 'set-jwks', c.client_id, '--jwks-uri', 'http://svc.example.com/jwks.json']);
  t.not(http.code, 0, 'http jwks_uri refused');
});
