import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CliError } from './cli-error.js';
import type { CliIo } from './command-context.js';

/** Everything on stdin, less one trailing newline (`echo pw | sigil … --password-stdin`). */
export async function readPasswordFromStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks on the terminal without echoing what is typed. */
export async function promptHidden(question: string, io: CliIo): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) io.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: io.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => {
        io.stderr.write('\n');
        resolve(answer);
      });
      muted = true;
    });
  } finally {
    rl.close();
  }
}

/** --password-stdin, or a hidden prompt (typed twice) when stdin is a terminal. */
export async function readNewPassword(fromStdin: boolean, io: CliIo): Promise<string> {
  if (fromStdin) return readPasswordFromStdin(io.stdin);
  if (!io.stdin.isTTY) throw new CliError('stdin is not a terminal: pass the password with --password-stdin');
  const first = await promptHidden('Password: ', io);
  const second = await promptHidden('Repeat password: ', io);
  if (first !== second) throw new CliError('the passwords do not match');
  return first;
}
