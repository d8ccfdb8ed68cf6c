import { readFileSync } from 'node:fs';
import t from 'tap';
import { SIGIL_NODE_FLAGS } from '../../bench/lib/sigil.js';

// Sigil's memory target depends on V8 flags given on the node command line (NODE_OPTIONS refuses
// one of them). Every way of running the server must give the same ones, and the bench must
// measure the server as it is run.
const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

t.test('the image, compose, npm start and the bench run the server with the same V8 flags', async (t) => {
  const flags = SIGIL_NODE_FLAGS.join(' ');
  t.match(flags, /--max-semi-space-size=\d+ --heap-growing-percent=\d+/);
  const dockerCmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
  t.equal((JSON.parse(dockerCmd ?? '[]') as string[]).join(' '), `node ${flags} bin/sigil.js serve`, 'Dockerfile CMD');
  t.match(read('docker-compose.yml'), `exec node ${flags} bin/sigil.js serve`, 'docker-compose.yml');
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  t.equal(pkg.scripts.start, `node ${flags} bin/sigil.js serve`, 'npm start');
  t.match(read('docs/benchmarks.md'), flags, 'docs/benchmarks.md, Memory');
});
