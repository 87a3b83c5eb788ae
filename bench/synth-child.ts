// One timed generation in its own process, so its peak RSS is the generator's alone. Prints one JSON line.
import { generateRegion } from '../src/synth/index.js';

const [out, people] = process.argv.slice(2) as [string, string];
const t0 = performance.now();
const summary = generateRegion({ region: 'gyeonggi', people: Number(people), seed: 'bench', out });
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(
  `${JSON.stringify({ seconds, resources: summary.resources, bytes: summary.bytes, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
);
