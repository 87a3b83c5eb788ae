#!/usr/bin/env node
// Entry point of the built package (`npm run build` first); in the repo use `npx tsx src/cli/main.ts`.
import { main } from '../dist/cli/main.js';

// `healthmesh stats | head`: a reader that stops early is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
});
process.exitCode = await main(process.argv.slice(2));
