import { createHash } from 'node:crypto';
import t from 'tap';
import { clientSecretMatches, hashClientSecret } from '../../src/clients/client-secrets.js';
import { createClientRepository } from '../../src/clients/client-repository.js';
import { createClientService } from '../../src/clients/client-service.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../../src/db/errors.js';
import { createTestDatabase } from '../helpers/db.js';

t.test('clients: create generates a 256-bit secret and stores only its SHA-256', async (t) => {
  const { db } = await createTestDatabase(t);
  const service = createClientService(createClientRepository(db));
  const { client, clientSecret } = await service.create({
    name: 'Billing',
    grantTypes: ['client_credentials', 'client_credentials'],
    scopes: ['read', 'write', 'read'],
    audience: 'https://api.example.com',
  });
  t.equal(Buffer.from(clientSecret, 'base64url').length, 32, '32 random bytes');
  t.match(client.clientId, /^[A-Za-z0-9_-]{22}$/);
  t.same(client.grantTypes, ['client_credentials'], 'duplicates folded');
  t.same(client.scopes, ['read', 'write']);

  const row = await db.query<{ secret_hash: Uint8Array }>('select secret_hash from clients');
  const stored = Buffer.from(row.rows[0]?.secret_hash ?? []);
  t.same(stored, createHash('sha256').update(clientSecret).digest(), 'SHA-256 of the secret');
  const dump = JSON.stringify((await db.query('select * from clients')).rows);
  t.notOk(dump.includes(clientSecret), 'the secret itself is nowhere in the row');

  const other = await service.create({ name: 'Other', grantTypes: ['password'] });
  t.not(other.clientSecret, clientSecret);
});

t.test('clients: input rules, in code and in SQL', async (t) => {
  const { db } = await createTestDatabase(t);
  const service = createClientService(createClientRepository(db));
  await service.create({ clientId: 'svc+/:%=ü', name: 'odd id', grantTypes: ['client_credentials'] });
  await t.rejects(service.create({ clientId: 'svc+/:%=ü', name: 'again', grantTypes: ['password'] }), ConflictError);
  await t.rejects(service.create({ name: 'x', grantTypes: ['implicit' as 'password'] }), {
    name: 'InvalidInputError',
    message: /unknown grant type \(known: /,
  });
  await t.rejects(service.create({ name: ' ', grantTypes: ['password'] }), InvalidInputError);
  await t.rejects(service.create({ name: 'x', grantTypes: [] }), InvalidInputError);
  await t.rejects(service.create({ name: 'x', grantTypes: ['password'], scopes: ['bad"scope'] }), InvalidInputError);
  await t.rejects(service.create({ name: 'x', grantTypes: ['password'], audience: 'not a uri' }), InvalidInputError);
  await t.rejects(service.create({ name: 'x', grantTypes: ['password'], accessTokenTtlSeconds: 0 }), InvalidInputError);

  const hash = hashClientSecret('s');
  const insert = (grants: string, scopes = '{}', name = 'n') =>
    db.query(`insert into clients (client_id, name, secret_hash, grant_types, scopes) values ($1, $2, $3, $4, $5)`, [
      `c-${Math.random()}`,
      name,
      hash,
      grants,
      scopes,
    ]);
  await t.rejects(insert('{implicit}'), { code: '23514' }, 'unknown grant type refused by SQL');
  await t.rejects(insert('{}'), { code: '23514' }, 'no grant type refused by SQL');
  await t.rejects(insert('{password}', '{"a b"}'), { code: '23514' }, 'scope with a space refused by SQL');
  await t.rejects(insert('{password}', '{"a\\"b"}'), { code: '23514' }, 'scope with a quote refused by SQL');
  await t.rejects(insert('{password}', '{""}'), { code: '23514' }, 'empty scope refused by SQL');
  await t.rejects(insert('{password}', '{NULL}'), { code: '23514' }, 'NULL scope refused by SQL');
  await t.rejects(insert('{password}', '{}', '  '), { code: '23514' }, 'blank name refused by SQL');
  await t.resolves(insert('{password}', '{read,write}'));
});

t.test('clients: rotate-secret keeps the old secret for the grace period; disable, delete', async (t) => {
  const { db } = await createTestDatabase(t);
  const repo = createClientRepository(db);
  const service = createClientService(repo);
  const { client, clientSecret: first } = await service.create({ name: 'Svc', grantTypes: ['client_credentials'] });
  const now = new Date('2030-01-01T00:00:00Z');
  const { clientSecret: second } = await service.rotateSecret(client.clientId, 24, now);
  const rotated = await repo.findById(client.clientId);
  t.ok(rotated);
  if (!rotated) return;
  t.ok(clientSecretMatches(second, [rotated.secretHash]));
  t.ok(clientSecretMatches(first, [rotated.previousSecretHash]));
  t.notOk(clientSecretMatches(first, [rotated.secretHash]));
  t.same(rotated.previousSecretExpiresAt, new Date('2030-01-02T00:00:00Z'));
  await t.rejects(service.rotateSecret('missing', 24), NotFoundError);

  t.equal((await repo.setDisabled(client.clientId, true))?.disabled, true);
  t.equal(await repo.delete(client.clientId), true);
  t.equal(await repo.findById(client.clientId), undefined);
});

t.test('clientSecretMatches compares every hash in constant time', async (t) => {
  const h = hashClientSecret('right');
  t.ok(clientSecretMatches('right', [null, h]));
  t.notOk(clientSecretMatches('wrong', [h, null, undefined]));
  t.notOk(clientSecretMatches('', [h]));
  t.notOk(clientSecretMatches('right', [Buffer.alloc(3)]), 'a hash of the wrong length never matches');
});
