#!/usr/bin/env node
// Entry point of the built package: `npm install` builds dist/ (the prepare script), so `npx healthmesh` works at once.
import { main } from '../dist/cli/main.js';

// `healthmesh stats | head`: a reader that stops early is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
});
process.exitCode = await main(process.argv.slice(2));
