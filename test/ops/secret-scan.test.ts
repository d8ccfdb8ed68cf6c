import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { findLeakedSecrets } from '../helpers/secret-scan.js';

// The suite-wide scan in test/helpers/after.ts must be able to fail.
t.test('the log scan finds a secret that reached a log', async (t) => {
  const run = `selftest-${process.pid}`;
  const dir = join(tmpdir(), `sigil-test-${run}`);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'secrets'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(join(dir, 'secrets', '1.jsonl'), `${JSON.stringify('s3cret-value-123')}\n${JSON.stringify('other-secret-456')}\n`);
  writeFileSync(join(dir, 'logs', '1.log'), '{"msg":"request","path":"/token"}\n');
  t.same(findLeakedSecrets(run), []);
  writeFileSync(join(dir, 'logs', '2.log'), '{"msg":"oops","body":"client_secret=s3cret-value-123"}\n');
  t.same(findLeakedSecrets(run), [{ secret: 's3cret-value-123', file: '2.log' }]);
});
