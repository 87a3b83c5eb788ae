// `npm run bench` runs every area; `npm run bench -- ingest` runs one. Each prints
// `<area> <what>: <value> <unit> (<ratio>x vs <reference>)` and exits non-zero when a floor is missed.
const AREAS: Record<string, () => Promise<boolean>> = {
  ingest: async () => (await import('./ingest.js')).runIngestBench(),
  forecast: async () => (await import('./forecast.js')).runForecastBench(),
  synth: async () => (await import('./synth.js')).runSynthBench(),
  views: async () => (await import('./views.js')).runViewsBench(),
  models: async () => (await import('./models.js')).runModelsBench(),
  'models-synthetic': async () => (await import('./models-synthetic.js')).runModelsSyntheticBench(),
  cohort: async () => (await import('./cohort.js')).runCohortBench(),
  federation: async () => (await import('./federation.js')).runFederationBench(),
  deidentify: async () => (await import('./deidentify.js')).runDeidentifyBench(),
  'surveillance-gate': async () => (await import('./surveillance-gate.js')).runSurveillanceGateBench(),
  engines: async () => (await import('./engines.js')).runEnginesBench(),
  load: async () => (await import('./load.js')).runLoadBench(),
  validation: async () => (await import('./validation.js')).runValidationBench(),
  citus: async () => (await import('./citus.js')).runCitusBench(),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((a) => !(a in AREAS));
if (unknown.length > 0) {
  console.error(`unknown bench area(s): ${unknown.join(', ')}; known: ${Object.keys(AREAS).join(', ')}`);
  process.exit(1);
}
let ok = true;
for (const area of wanted.length > 0 ? wanted : Object.keys(AREAS)) ok = (await AREAS[area]!()) && ok;
process.exit(ok ? 0 : 1);
