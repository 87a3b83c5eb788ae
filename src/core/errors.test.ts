import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ErrorKind } from './index.js';
import { ERROR_CODES, ERROR_KINDS, exitCodeOf, HealthmeshError, httpStatusOf, kindOf } from './index.js';

const page = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('error codes', () => {
  it('are listed in docs/errors.md with their kind, and the page lists no other', () => {
    const documented = [...page.matchAll(/^\| `([A-Z_]+)` \| ([a-z-]+) \|/gm)].map((m) => [m[1], m[2]]);
    expect(documented).toEqual(Object.entries(ERROR_CODES).map(([code, e]) => [code, e.kind]));
  });

  it('each have a kind that is one of the declared kinds', () => {
    const kinds = new Set<string>(ERROR_KINDS);
    const without = Object.entries(ERROR_CODES).filter(([, e]) => !kinds.has((e as { kind?: string }).kind ?? ''));
    expect(without.map(([code]) => code)).toEqual([]);
  });

  it('give every error its declared kind', () => {
    for (const code of Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]) {
      expect(new HealthmeshError(code, 'x').kind).toBe(ERROR_CODES[code].kind);
    }
  });

  it('refuse, at compile time, a code that is not declared', () => {
    // @ts-expect-error: NOT_A_CODE is not in ERROR_CODES (tsc fails here if the constructor accepted any string)
    const e = new HealthmeshError('NOT_A_CODE', 'x');
    // One that slipped past the types anyway (a cast message from a worker) is treated as ours.
    expect(e.kind).toBe('internal');
  });
});

describe('error kinds', () => {
  const expected: Record<ErrorKind, [status: number, exit: number]> = {
    input: [400, 1],
    unauthenticated: [401, 1],
    forbidden: [403, 1],
    'not-found': [404, 1],
    conflict: [409, 1],
    'too-large': [413, 1],
    'rate-limited': [429, 1],
    peer: [502, 3],
    unavailable: [503, 3],
    internal: [500, 2],
  };

  it('each map to one HTTP status and one exit code', () => {
    expect(Object.fromEntries(ERROR_KINDS.map((k) => [k, [httpStatusOf(k), exitCodeOf(k)]]))).toEqual(expected);
  });

  it('are the ones docs/errors.md tabulates, with the same status and exit code', () => {
    const rows = [...page.matchAll(/^\| ([a-z-]+) \| (\d{3}) \| (\d) \|/gm)].map((m) => [
      m[1],
      Number(m[2]),
      Number(m[3]),
    ]);
    expect(rows).toEqual(ERROR_KINDS.map((k) => [k, httpStatusOf(k), exitCodeOf(k)]));
  });

  it('send a caller fault to 4xx and exit 1, and nothing else', () => {
    for (const k of ERROR_KINDS) expect(httpStatusOf(k) < 500, k).toBe(exitCodeOf(k) === 1);
  });

  it('fix the disagreements of the old prefix tables', () => {
    // A bad hub.json was a 500 to the API (no prefix matched) while the CLI called it bad input.
    expect([httpStatusOf(kindOf('CONFIG_INVALID')), exitCodeOf(kindOf('CONFIG_INVALID'))]).toEqual([400, 1]);
    // COHORT_ took every cohort code to 400, a missing cohort included.
    expect(httpStatusOf(kindOf('COHORT_NOT_FOUND'))).toBe(404);
    for (const code of Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]) {
      if (code.endsWith('_NOT_FOUND')) expect(kindOf(code), code).toBe('not-found');
    }
  });
});
