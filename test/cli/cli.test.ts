import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import t from 'tap';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { parseConfig } from '../../src/config.js';
import { createCliSession, runCli } from '../helpers/cli.js';

t.test('clients: create --json, list, show, rotate-secret, disable, enable, delete', async (t) => {
  const { cli } = await createCliSession(t);
  const created = await cli(
    ['clients', 'create', '--name', 'Billing', '--id', 'billing', '--grant', 'client_credentials', '--scope', 'read write',
      '--audience', 'https://api.example.com', '--introspect', '--json'],
  );
  t.equal(created.code, 0, created.stderr);
  const c = JSON.parse(created.stdout);
  t.match(c, {
    client_id: 'billing',
    name: 'Billing',
    grant_types: ['client_credentials'],
    scopes: ['read', 'write'],
    audience: 'https://api.example.com',
    introspect: true,
    disabled: false,
  });
  t.match(c.client_secret, /^[A-Za-z0-9_-]{43}$/, '32 bytes, base64url');

  const list = await cli(['clients', 'list', '--json']);
  t.equal(list.code, 0);
  const listed = JSON.parse(list.stdout);
  t.same(listed.map((x: { client_id: string }) => x.client_id), ['billing']);
  t.notOk(list.stdout.includes(c.client_secret), 'list never shows a secret');

  const human = await cli(['clients', 'list']);
  t.match(human.stdout, /CLIENT_ID\s+NAME\s+GRANTS/);
  t.match(human.stdout, /billing\s+Billing\s+client_credentials/);

  const show = await cli(['clients', 'show', 'billing']);
  t.match(show.stdout, /scopes:\s+read write/);

  const rotated = await cli(['clients', 'rotate-secret', 'billing', '--grace-hours', '2', '--json']);
  t.equal(rotated.code, 0, rotated.stderr);
  const r = JSON.parse(rotated.stdout);
  t.not(r.client_secret, c.client_secret);
  t.ok(r.previous_secret_expires_at, 'the old secret has an expiry');

  t.equal(JSON.parse((await cli(['clients', 'disable', 'billing', '--json'])).stdout).disabled, true);
  t.equal(JSON.parse((await cli(['clients', 'enable', 'billing', '--json'])).stdout).disabled, false);
  t.equal((await cli(['clients', 'delete', 'billing'])).code, 0);
  t.match((await cli(['clients', 'list'])).stdout, /No clients yet/);
});

t.test('clients: bad input is one clear line and exit 1, nothing half-written', async (t) => {
  const { cli } = await createCliSession(t);
  const first = await cli(['clients', 'create', '--name', 'A', '--id', 'dup', '--grant', 'password']);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /client_secret: \S{43}/);
  t.match(first.stdout, /shown only now/);

  const cases: [string[], RegExp][] = [
    [['clients', 'create', '--name', 'B', '--id', 'dup', '--grant', 'password'], /already exists/],
    [['clients', 'create', '--name', 'B', '--grant', 'implicit'], /unknown grant type \(known: /],
    [['clients', 'create', '--name', 'B'], /at least one grant type/],
    [['clients', 'create', '--grant', 'password'], /--name/],
    [['clients', 'show', 'nope'], /no client has this id/],
    [['clients', 'disable', 'nope'], /no client has this id/],
    [['clients', 'rotate-secret', 'nope'], /no client has this id/],
    [['clients', 'delete', 'nope'], /no client has this id/],
  ];
  for (const [args, message] of cases) {
    const res = await cli(args);
    t.equal(res.code, 1, `${args.join(' ')} exits 1`);
    t.match(res.stderr, message);
    t.notMatch(res.stderr, /\n\s+at /, 'no stack trace');
  }
  const list = JSON.parse((await cli(['clients', 'list', '--json'])).stdout);
  t.equal(list.length, 1, 'only the first client exists');
});

t.test('clients: a private_key_jwt client has no secret to rotate (the service refuses, as in the admin API)', async (t) => {
  const { cli } = await createCliSession(t);
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  const dir = mkdtempSync(join(tmpdir(), 'sigil-jwks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'keys.json');
  writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }));
  const created = await cli(['clients', 'create', '--name', 'Svc', '--id', 'svc', '--grant', 'client_credentials', '--auth', 'private_key_jwt', '--jwks-file', file]);
  t.equal(created.code, 0, created.stderr);
  const rotate = await cli(['clients', 'rotate-secret', 'svc']);
  t.equal(rotate.code, 1);
  t.match(rotate.stderr, /private_key_jwt: it has no secret to rotate/);
  t.equal(JSON.parse((await cli(['clients', 'show', 'svc', '--json'])).stdout).token_endpoint_auth_method, 'private_key_jwt');
});

t.test('every command has --help', async (t) => {
  const commands = [
    [], ['serve'], ['migrate'], ['clients'], ['clients', 'create'], ['clients', 'list'], ['clients', 'show'],
    ['clients', 'rotate-secret'], ['clients', 'disable'], ['clients', 'enable'], ['clients', 'delete'],
    ['users'], ['users', 'create'], ['users', 'set-password'], ['users', 'list'], ['users', 'disable'],
    ['users', 'enable'], ['users', 'delete'], ['keys'], ['keys', 'list'], ['keys', 'rotate'], ['keys', 'revoke'],
    ['keys', 'rewrap'], ['tokens'], ['tokens', 'revoke'],
  ];
  // In-process: the same program the binary runs, without a process start per command.
  for (const c of commands) {
    let out = '';
    const program = buildProgram({ config: () => parseConfig({}) });
    const capture = (cmd: Command) => {
      cmd.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
      cmd.commands.forEach(capture);
    };
    capture(program);
    await t.rejects(program.parseAsync(['node', 'sigil', ...c, '--help']), { code: 'commander.helpDisplayed' }, c.join(' '));
    t.match(out, /Usage: sigil/);
  }
  const binary = await runCli(['clients', 'create', '--help'], { env: {} });
  t.equal(binary.code, 0, 'and the binary itself');
  t.match(binary.stdout, /--grant <type>/);
});
