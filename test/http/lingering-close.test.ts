import { request } from 'node:http';
import { connect } from 'node:net';
import t from 'tap';
import { LINGER_MAX_BYTES } from '../../src/http/lingering-close.js';
import { buildTestApp } from '../helpers/app.js';
import { freePort } from '../helpers/net.js';

const EIGHT_MIB = 8 * 1024 * 1024;
const FORM = 'application/x-www-form-urlencoded';

/** A body that streams `total` bytes of a form in 64 KiB chunks, with no Content-Length. */
function streamingBody(total: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).fill(0x61); // 'a'
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      controller.enqueue(chunk);
      sent += chunk.length;
    },
  });
}

t.test('a client sending a body too large reads the 413, over a real connection', async (t) => {
  const port = await freePort();
  const { app } = await buildTestApp(t);
  await app.listen({ port, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${port}/token`;

  // undici (Node's fetch) streaming 8 MiB chunked: before, EPIPE/ECONNRESET instead of the status.
  for (let i = 0; i < 3; i++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: streamingBody(EIGHT_MIB),
      duplex: 'half',
    } as RequestInit);
    t.equal(res.status, 413, `chunked, try ${i + 1}`);
    t.same(await res.json(), { error: 'invalid_request', error_description: 'the request body is too large' });
  }

  // The same with Content-Length (fetch sets it for a buffer).
  const sized = await fetch(url, { method: 'POST', headers: { 'content-type': FORM }, body: Buffer.alloc(EIGHT_MIB, 0x61) });
  t.equal(sized.status, 413, 'with Content-Length');
  t.equal(sized.headers.get('content-length') !== null, true);
  t.same(await sized.json(), { error: 'invalid_request', error_description: 'the request body is too large' });

  // node:http writing 8 MiB: before, the 413 and then EPIPE on the write still going.
  for (let i = 0; i < 3; i++) {
    const outcome = await new Promise<{ status?: number; error?: string }>((resolve) => {
      const result: { status?: number; error?: string } = {};
      const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/token', headers: { 'content-type': FORM } });
      req.on('response', (r) => {
        result.status = r.statusCode;
        r.resume();
        // Some time for a reset of the write to surface.
        r.on('end', () => setTimeout(() => resolve(result), 200));
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        result.error = e.code;
        resolve(result);
      });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let n = 0;
      const pump = () => {
        while (n < EIGHT_MIB / chunk.length) {
          n++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    t.same(outcome, { status: 413 }, `node:http, try ${i + 1}: the status, no EPIPE`);
  }

  // A request within the limit on a fresh connection still works after all that.
  const small = await fetch(url, { method: 'POST', headers: { 'content-type': FORM }, body: 'grant_type=client_credentials' });
  t.equal(small.status, 401, 'the server goes on answering');
});

t.test('lingering is bounded: a client that never stops sending is cut off', async (t) => {
  const port = await freePort();
  const { app } = await buildTestApp(t);
  await app.listen({ port, host: '127.0.0.1' });

  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {}); // the cut may reach the writer as a reset
  let received = '';
  socket.on('data', (d) => {
    received += d.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM}\r\nTransfer-Encoding: chunked\r\n\r\n`);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
  // Far more than the bound, never the last chunk: only the server can end this.
  let sent = 0;
  let done = false;
  void closed.then(() => {
    done = true;
  });
  while (!done && sent < 16 * LINGER_MAX_BYTES) {
    if (!socket.write(frame)) await new Promise((r) => socket.once('drain', r).once('close', r));
    sent += frame.length;
  }
  await closed;
  t.ok(done, 'the server closed the connection');
  t.ok(sent < 16 * LINGER_MAX_BYTES, 'before the client ran out of things to send');
  t.match(received, /^HTTP\/1\.1 413 /, 'the 413 was sent first');
});
