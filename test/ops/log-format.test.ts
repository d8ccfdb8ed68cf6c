import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import t from 'tap';
import { logFormatFor, loggerOptions } from '../../src/logger.js';
import { formatLogLine } from '../../src/pretty-log.js';
import { childEnv, createCliTarget, SIGIL_BIN } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server-process.js';

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
const jsonObjectLine = (line: string) => /^\s*\{.*\}\s*$/.test(line);

t.test('pretty for a terminal, JSON lines for anything else', async (t) => {
  t.equal(logFormatFor({ isTTY: true }), 'pretty');
  t.equal(logFormatFor({ isTTY: false }), 'json');
  t.equal(logFormatFor({}), 'json', 'a pipe or a file has no isTTY');
  const json = loggerOptions('info', 'json') as { stream?: unknown };
  t.equal(json.stream, undefined, 'JSON lines: pino writes to stdout itself, pino-pretty is not loaded');
  const pretty = loggerOptions('info', 'pretty') as { stream?: unknown; redact?: unknown };
  t.ok(pretty.stream, 'pretty: a pino-pretty stream');
  t.ok(pretty.redact, 'redaction applies before the stream, as for JSON');
  t.equal(loggerOptions('silent', 'pretty'), false);
});

t.test('a log object reads as one line of key=value', async (t) => {
  const line = formatLogLine({
    level: 30,
    time: 1,
    pid: 2,
    hostname: 'h',
    req_id: 'abc-1',
    msg: 'request',
    method: 'POST',
    path: '/token',
    status: 200,
    ms: 3.1,
    client_id: 'demo',
  });
  t.equal(line, 'request req_id=abc-1 method=POST path=/token status=200 ms=3.1 client_id=demo');
  t.equal(
    formatLogLine({ msg: 'login failed', audit: { event: 'login_failed', username: 'a b' } }),
    'login failed audit.event=login_failed audit.username="a b"',
  );
  const withError = formatLogLine({ msg: 'housekeeping failed', err: { message: 'boom', stack: 'Error: boom\n    at x' } });
  t.match(withError, /^housekeeping failed err=boom\nError: boom\n {4}at x$/);
});

const hasScript = spawnSync('script', ['--version']).status === 0;

t.test('npm start on a terminal: readable lines and the banner, no JSON', { skip: !hasScript && 'no script(1)' }, async (t) => {
  const { env } = await createCliTarget(t);
  // script(1) gives the server a pseudo-terminal as stdout, as a person's terminal would.
  const child = spawn('script', ['-qec', `${process.execPath} ${SIGIL_BIN} serve`, '/dev/null'], {
    env: childEnv({ PORT: '0', LOG_LEVEL: 'info', ...env }),
    cwd: tmpdir(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d;
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  t.teardown(() => {
    if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  });
  for (const start = Date.now(); !/Stop with Ctrl-C/.test(out); ) {
    if (Date.now() - start > 20_000 || child.exitCode !== null) throw new Error(`no banner in:\n${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const url = /Sigil is listening on (\S+)/.exec(out)?.[1] ?? '';
  t.equal((await fetch(`${url}/healthz`)).status, 200);
  for (const start = Date.now(); !/request .*path=\/healthz/.test(stripAnsi(out)) && Date.now() - start < 5000; ) {
    await new Promise((r) => setTimeout(r, 25));
  }
  if (child.pid) process.kill(-child.pid, 'SIGTERM');
  await exited;
  const lines = stripAnsi(out).split(/\r?\n/);
  t.match(stripAnsi(out), /INFO.*Server listening at http/, 'a pretty log line');
  t.match(stripAnsi(out), /INFO.*request .*method=GET path=\/healthz status=200/, 'the request line as key=value');
  t.match(stripAnsi(out), /Sigil is listening on http/);
  t.match(stripAnsi(out), /curl -s -u/, 'the banner with its curl line');
  t.same(lines.filter(jsonObjectLine), [], 'no JSON objects on a terminal');
});

t.test('piped: JSON lines, as before', async (t) => {
  const { env } = await createCliTarget(t);
  const server = await startServerProcess(t, env);
  await server.waitFor(/Stop with Ctrl-C/);
  t.equal(await server.stop(), 0);
  const logLines = server.output().split('\n').filter(jsonObjectLine);
  t.ok(logLines.length > 0, 'log lines are JSON objects');
  t.ok(
    logLines.every((l) => typeof JSON.parse(l).level === 'number'),
    'each one a pino line',
  );
});
