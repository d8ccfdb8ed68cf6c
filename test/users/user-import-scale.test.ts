import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import bcrypt from 'bcrypt';
import t from 'tap';
import { createPasswordHasher } from '../../src/users/passwords.js';
import { createUserImporter } from '../../src/users/user-import.js';
import { buildTestApp } from '../helpers/app.js';

// A full collection before each sample, so the heap figure is what the import holds, not garbage
// that V8 has not collected yet.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

type App = Awaited<ReturnType<typeof buildTestApp>>;
const importer = (app: App) => createUserImporter(app.db, createPasswordHasher(app.config.argon2));
const countUsers = async (app: App) => Number((await app.db.query<{ n: string }>('select count(*) as n from users')).rows[0]?.n);

t.test('a file of 100,000 lines is imported in bounded memory', async (t) => {
  const app = await buildTestApp(t);
  const h = await bcrypt.hash('x', 4);
  const n = 100_000;
  // Long names make the file 30 MB: holding it, or its users, would show in RSS.
  const pad = 'p'.repeat(200);
  function* lines() {
    for (let i = 0; i < n; i++) yield `{"username": "user-${i}-${pad}", "password_hash": "${h}"}\n`;
  }
  gc();
  const m0 = process.memoryUsage();
  let peak = m0.rss;
  let heapPeak = m0.heapUsed;
  const summary = await importer(app).run(Readable.from(lines()), {
    onProgress: ({ lines }) => {
      if (lines % 20_000 !== 0) return;
      gc();
      const m = process.memoryUsage();
      peak = Math.max(peak, m.rss);
      heapPeak = Math.max(heapPeak, m.heapUsed);
    },
  });
  const mib = (n: number) => Math.round(n / 2 ** 20);
  t.match(summary, { imported: n, rejected: 0, lines: n });
  t.equal(await countUsers(app), n);
  // The file is 30 MB, and its lines and users as objects more: holding them would show here.
  // (The embedded database's own JS side grows by about 30 MiB over this run, PostgreSQL's 3 MiB.)
  t.ok(heapPeak - m0.heapUsed < 64 * 2 ** 20, `the JS heap grew ${mib(heapPeak - m0.heapUsed)} MiB`);
  // Generous: the embedded database's WASM memory grows with the table (about 300 MiB here).
  t.ok(peak - m0.rss < 768 * 2 ** 20, `RSS grew ${mib(peak - m0.rss)} MiB`);
});
