// `sigil` from the compiled dist/, as the Docker image runs it (bin/sigil.js would pick the
// TypeScript sources through tsx in a checkout). bench/lib/sigil.ts builds dist/ first.
const { main } = await import(new URL('../../dist/cli/main.js', import.meta.url).href);
await main();
