import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';
import { compileR4Plan } from './validator-plan.js';
import { loadR4Plan } from './validator-plan-cache.js';

describe('the R4 validator plan cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hm-plan-cache-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const compiled = compileR4Plan();
  const fileOf = () => {
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    return join(dir, files[0]!);
  };

  it('compiles on a miss, keeps the plan, and a later load reads the same plan back', () => {
    // Unbounded cardinalities are Infinity: a format that loses them would let any number of repeats through.
    expect(compiled.types.some((t) => t.props.some((p) => p.max === Number.POSITIVE_INFINITY))).toBe(true);
    expect(loadR4Plan(dir)).toEqual(compiled);
    const file = fileOf();
    expect(file).toMatch(/r4-validator-plan-[0-9a-f]{16}\.v8$/);
    expect(deserialize(readFileSync(file)).plan).toEqual(compiled);
    expect(loadR4Plan(dir)).toEqual(compiled);
  });

  it('serves what the file holds when its key matches (the load reads the file, not a compile)', () => {
    const file = fileOf();
    const cached = deserialize(readFileSync(file));
    cached.plan.resourceTypes = ['Patient'];
    writeFileSync(file, serialize(cached));
    expect(loadR4Plan(dir).resourceTypes).toEqual(['Patient']);
  });

  it('compiles again and replaces a file that is cut short, or that carries another key', () => {
    const file = fileOf();
    writeFileSync(file, readFileSync(file).subarray(0, 1000));
    expect(loadR4Plan(dir)).toEqual(compiled);
    expect(deserialize(readFileSync(fileOf())).plan).toEqual(compiled);
    const other = deserialize(readFileSync(file));
    other.key = 'another compiler';
    other.plan.resourceTypes = ['Patient'];
    writeFileSync(file, serialize(other));
    expect(loadR4Plan(dir)).toEqual(compiled);
  });

  it('compiles when there is nowhere to keep it', () => {
    const blocked = join(dir, 'not-a-folder');
    writeFileSync(blocked, 'a file where the cache folder would go');
    expect(loadR4Plan(join(blocked, 'cache'))).toEqual(compiled);
    expect(loadR4Plan(null)).toEqual(compiled);
    rmSync(blocked);
  });
});
