// A ceiling in N processes sharing one port, as SIGIL_WORKERS=N runs Sigil (node:cluster):
// `node --import tsx cluster.ts N ceiling.ts`. Each worker runs the ceiling as it is; http.ts's
// announce() sends the worker's port here instead of printing it, and this primary prints the
// one `{"port":N}` line once every worker listens. SIGTERM stops the workers with it.
import cluster from 'node:cluster';

const [count = '', script = ''] = process.argv.slice(2);
const workers = Number(count);
if (!Number.isInteger(workers) || workers < 1 || !script) throw new Error('usage: cluster.ts <workers> <ceiling.ts>');

cluster.setupPrimary({ exec: script, args: [] });
const ports = await Promise.all(
  Array.from(
    { length: workers },
    () =>
      new Promise<number>((resolve, reject) => {
        const worker = cluster.fork();
        worker.once('message', (m: { port?: number }) => (typeof m.port === 'number' ? resolve(m.port) : reject(new Error('no port'))));
        worker.once('exit', (code) => reject(new Error(`a worker exited with code ${code} while starting`)));
      }),
  ),
);
if (new Set(ports).size !== 1) throw new Error(`the workers listen on different ports: ${ports.join(', ')}`);
// The primary goes only when its workers have (each may be writing a --cpu-prof profile), or
// after 4 s: the bench's stop waits for the primary, and the next scenario must not share the cores.
process.once('SIGTERM', () => {
  const alive = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
  let left = alive.length;
  if (left === 0) process.exit(0);
  for (const w of alive) {
    w.once('exit', () => {
      if (--left === 0) process.exit(0);
    });
    w.kill('SIGTERM');
  }
  setTimeout(() => process.exit(0), 4000).unref();
});
process.stdout.write(`${JSON.stringify({ port: ports[0] })}\n`);
