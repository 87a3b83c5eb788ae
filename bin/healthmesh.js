#!/usr/bin/env node
// Entry point of the package. In a checkout (src/ and the dev dependency tsx present) it runs the TypeScript source
// through tsx, the loader `npm start` uses, so `npx healthmesh` works straight after `npm install` and never runs a
// dist/ older than the source; an installed package without tsx runs the build in dist/ (the prepare script).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const source = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(source) && hasTsx()) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}

function hasTsx() {
  try {
    createRequire(import.meta.url).resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

// `healthmesh stats | head`: a reader that stops early is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
});
process.exitCode = await main(process.argv.slice(2));
