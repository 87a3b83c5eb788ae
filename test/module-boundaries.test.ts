import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The module stack as docs/architecture.md states it, checked against the code: a module imports only modules above
 * it in the table and only through their `index.ts`, and no module's SQL names another module's tables. The order
 * is read from the document, so the table and the code cannot drift apart.
 */

const ROOT = join(import.meta.dirname, '..');

function moduleOrder(): string[] {
  const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  return [...doc.matchAll(/^\| `([a-z]+)\/` \|/gm)].map((m) => m[1] as string);
}

function sources(module: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) files.set(path, readFileSync(path, 'utf8'));
    }
  };
  walk(join(ROOT, 'src', module));
  return files;
}

/** Tables whose names are made at run time: the prefix, and the module that makes them. */
const TABLE_PREFIXES: readonly (readonly [prefix: string, owner: string, madeBy: RegExp])[] = [
  ['view_', 'views', /`view_\$\{/],
];

/** Where a module's code names a table another module creates, as `file:line table (owner)`. */
function tableTrespasses(code: ReadonlyMap<string, ReadonlyMap<string, string>>): string[] {
  const owner = new Map<string, string>();
  for (const [module, files] of code) {
    for (const text of files.values()) {
      for (const m of text.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?([a-z][a-z0-9_]*)|RENAME TO ([a-z][a-z0-9_]*)/g)) {
        owner.set((m[1] ?? m[2]) as string, module);
      }
    }
  }
  const found: string[] = [];
  for (const [module, files] of code) {
    for (const [path, text] of files) {
      text.split('\n').forEach((line, i) => {
        for (const word of line.match(/\b[a-z][a-z0-9]*_[a-z0-9_]+\b/g) ?? []) {
          const prefixed = TABLE_PREFIXES.find(([prefix]) => word.startsWith(prefix));
          const by = owner.get(word) ?? prefixed?.[1];
          if (by && by !== module) found.push(`${relative(ROOT, path)}:${i + 1} ${word} (${by})`);
        }
      });
    }
  }
  return found;
}

/** Imports of a module below this one, or past another module's `index.ts`, as `file:line specifier`. */
function importTrespasses(order: readonly string[], code: ReadonlyMap<string, ReadonlyMap<string, string>>) {
  const found: string[] = [];
  for (const [module, files] of code) {
    for (const [path, text] of files) {
      text.split('\n').forEach((line, i) => {
        for (const m of line.matchAll(/from '(\.\.?\/[^']+)'|import\('(\.\.?\/[^']+)'\)/g)) {
          const target = relative(join(ROOT, 'src'), normalize(join(dirname(path), (m[1] ?? m[2]) as string)));
          const [to, ...rest] = target.split('/');
          if (!to || to === module || to === '..') continue;
          const below = order.indexOf(to) > order.indexOf(module);
          const deep = rest.join('/') !== 'index.js';
          if (below || deep) found.push(`${relative(ROOT, path)}:${i + 1} ${m[1] ?? m[2]}`);
        }
      });
    }
  }
  return found;
}

describe('module boundaries', () => {
  const order = moduleOrder();
  const code = new Map(order.map((m) => [m, sources(m)]));

  it('lists every source folder in the architecture table', () => {
    const folders = readdirSync(join(ROOT, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect([...order].sort()).toEqual(folders);
  });

  it('imports only modules above, through their index.ts', () => {
    expect(importTrespasses(order, code)).toEqual([]);
  });

  it("names no other module's tables in any module's code", () => {
    for (const [, owner, madeBy] of TABLE_PREFIXES) {
      expect([...(code.get(owner)?.values() ?? [])].some((t) => madeBy.test(t))).toBe(true);
    }
    expect(tableTrespasses(code)).toEqual([]);
  });

  it('catches what it is meant to catch', () => {
    const fake = new Map([
      ['store', new Map([[join(ROOT, 'src/store/a.ts'), 'CREATE TABLE resource_head (id VARCHAR)']])],
      ['views', new Map([[join(ROOT, 'src/views/b.ts'), "import { x } from '../cohort/cohort-runner.js';"]])],
      ['cohort', new Map([[join(ROOT, 'src/cohort/c.ts'), 'SELECT id FROM resource_head JOIN view_observation']])],
    ]);
    expect(tableTrespasses(fake)).toEqual([
      'src/cohort/c.ts:1 resource_head (store)',
      'src/cohort/c.ts:1 view_observation (views)',
    ]);
    expect(importTrespasses(['store', 'views', 'cohort'], fake)).toEqual([
      'src/views/b.ts:1 ../cohort/cohort-runner.js',
    ]);
  });
});
