#!/usr/bin/env node
// Entry point of the built package (`npm run build` first); in the repo use `npx tsx src/cli/main.ts`.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
