import type { IncomingMessage, ServerResponse } from 'node:http';

/** Most bytes read and dropped after answering, before the connection is cut. */
export const LINGER_MAX_BYTES = 4 * 1024 * 1024;
/** Longest wait for the client to finish sending after the answer, before the connection is cut. */
export const LINGER_MAX_MS = 1000;

export interface LingerOptions {
  maxBytes?: number;
  maxMs?: number;
}

/**
 * Makes an answer given before the request body was read (413) one the client can read.
 *
 * Fastify marks such an answer `Connection: close`, and Node then destroys the socket as soon as
 * the answer is written: the client, still sending, meets a reset (EPIPE, ECONNRESET) and many
 * clients (undici, fetch) report that instead of the status. Instead, as nginx's lingering close
 * does, the rest of the body is read and dropped for a bounded time and amount; once the client
 * has sent it all, the connection is closed cleanly (FIN after the answer), and past either bound
 * it is cut. Call before the answer is sent.
 */
export function lingerAfterAnswer(req: IncomingMessage, res: ServerResponse, o: LingerOptions = {}): void {
  const socket = req.socket;
  // app.inject's requests have a stand-in socket, with nothing to drain or close.
  if (req.complete || socket.destroyed || typeof socket.end !== 'function') return;
  const maxBytes = o.maxBytes ?? LINGER_MAX_BYTES;
  // Not `Connection: close`: that makes Node destroy the socket the moment the answer is written.
  // The connection is closed below, once the body is drained or a bound is reached.
  res.removeHeader('connection');
  let seen = 0;
  const cut = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(cut, o.maxMs ?? LINGER_MAX_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) cut();
  });
  req.resume();
  req.once('end', () => {
    clearTimeout(timer);
    // The answer first, then FIN: no request after this one is read on this connection.
    if (res.writableFinished) socket.end();
    else res.once('finish', () => socket.end());
  });
  socket.once('close', () => clearTimeout(timer));
}
