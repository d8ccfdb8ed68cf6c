import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { ConfigError, ENV_VARS, parseConfig } from '../src/config.js';
import { createCliTarget, runCli, writeEnvFile } from './helpers/cli.js';

t.test('every variable is documented in a table of the manual (README.md, docs/) and in .env.example', async (t) => {
  const docs = new URL('../docs/', import.meta.url);
  const manual = [
    readFileSync(new URL('../README.md', import.meta.url), 'utf8'),
    ...readdirSync(docs)
      .filter((f) => f.endsWith('.md'))
      .map((f) => readFileSync(new URL(f, docs), 'utf8')),
  ].join('\n');
  const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
  t.ok(ENV_VARS.length > 30, 'the list is the schema');
  for (const name of ENV_VARS) {
    t.ok(manual.includes(`| \`${name}\``), `${name} has a row in a table of the manual`);
    t.match(example, new RegExp(`^(# )?${name}=`, 'm'), `${name} is in .env.example`);
  }
});

t.test('defaults', async (t) => {
  const c = parseConfig({});
  t.equal(c.port, 8080);
  t.equal(c.host, '127.0.0.1');
  t.equal(c.issuer, 'http://127.0.0.1:8080');
  t.equal(c.databaseUrl, undefined, 'no DATABASE_URL means the embedded database');
  t.equal(c.dataDir, resolve('./data'));
  t.equal(c.logLevel, 'info');
  t.same(c.argon2, { memoryCost: 19456, timeCost: 2, parallelism: 1, concurrency: availableParallelism() }, 'OWASP minimum, one hash per CPU at a time');
});

t.test('issuer derivation and explicit values', async (t) => {
  t.equal(parseConfig({ HOST: '0.0.0.0', PORT: '9000' }).issuer, 'http://localhost:9000');
  t.equal(parseConfig({ HOST: '::1', PORT: '9000' }).issuer, 'http://[::1]:9000');
  t.equal(parseConfig({ SIGIL_ISSUER: 'https://auth.example.com/' }).issuer, 'https://auth.example.com', 'no trailing slash');
  t.equal(parseConfig({ PORT: '' }).port, 8080, 'an empty value counts as unset');
  t.equal(parseConfig({ DATABASE_URL: 'postgresql://u@h/db' }).databaseUrl, 'postgresql://u@h/db');
  t.equal(parseConfig({ SIGIL_ARGON2_MEMORY_KIB: '65536' }).argon2.memoryCost, 65536);
  t.equal(parseConfig({ SIGIL_ARGON2_CONCURRENCY: '3' }).argon2.concurrency, 3);
});

t.test('a bad value names the variable and the problem', async (t) => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ PORT: 'eighty' }, /^PORT: .*"eighty"/],
    [{ PORT: '70000' }, /^PORT: /],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: /],
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL: must be a postgres/],
    [{ SIGIL_ISSUER: 'auth.example.com' }, /^SIGIL_ISSUER: /],
    [{ SIGIL_ISSUER: 'https://a.example.com/?x=1' }, /^SIGIL_ISSUER: must not contain a query/],
    [{ SIGIL_ARGON2_MEMORY_KIB: '1024' }, /^SIGIL_ARGON2_MEMORY_KIB: /],
    [{ SIGIL_ARGON2_TIME_COST: '1' }, /^SIGIL_ARGON2_TIME_COST: /],
    [{ SIGIL_DEMO: 'maybe' }, /^SIGIL_DEMO: /],
  ];
  for (const [env, message] of bad) {
    t.throws(() => parseConfig(env), ConfigError);
    t.throws(() => parseConfig(env), { message }, JSON.stringify(env));
  }
});

t.test('the CLI refuses a bad configuration with one line and exit code 1', async (t) => {
  const res = await runCli(['users', 'list'], { env: { PORT: 'eighty' } });
  t.equal(res.code, 1);
  t.match(res.stderr, /^sigil: PORT: .*\n$/);
});

t.test('.env is read when present; the environment wins over it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-env-'));
  writeEnvFile(dir, 'LOG_LEVEL=noisy\n');
  const fromFile = await runCli(['users', 'list'], { env: {}, cwd: dir });
  t.equal(fromFile.code, 1);
  t.match(fromFile.stderr, /^sigil: LOG_LEVEL: /, 'the value came from .env');
  const overridden = await runCli(['users', 'list', '--json'], {
    env: { ...(await createCliTarget(t)).env, LOG_LEVEL: 'warn' },
    cwd: dir,
  });
  t.equal(overridden.code, 0, overridden.stderr);
  t.same(JSON.parse(overridden.stdout), []);
});
