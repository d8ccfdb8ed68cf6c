#!/usr/bin/env node
// Entry point of the `sigil` command. A checkout runs the TypeScript sources through tsx, so
// `npx sigil …` works right after `npm install` with no build step; the Docker image ships only
// the compiled dist/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await (await import(source.href)).main();
} else {
  await (await import(new URL('../dist/cli/main.js', import.meta.url).href)).main();
}
