import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { SeenNames } from '../privacy/index.js';
import { gatherSeenNames } from './seen-names-pass.js';

const person = (type: string, family: string, given: string) => ({
  resourceType: type,
  id: `${family}-1`,
  name: [{ family, given: [given] }],
});

const latinOf = async (files: string[]) => (await gatherSeenNames(files, 1 << 20)).toData().latin.sort();
/** What the pass must find: the names of exactly these people. */
const latinOfPeople = (people: Record<string, unknown>[]) => {
  const names = new SeenNames();
  for (const p of people) names.addResource(p);
  return names.toData().latin.sort();
};

describe('the seen-names first pass', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hm-seen-names-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds every person type in NDJSON, written compactly or with JSON whitespace, contained ones too', async () => {
    const observation = {
      resourceType: 'Observation',
      subject: { reference: 'Patient/p1' },
      contained: [person('RelatedPerson', 'Okafor', 'Chidi')],
    };
    const lines = [
      JSON.stringify(observation),
      JSON.stringify(person('Patient', 'Lindqvist', 'Astrid')),
      JSON.stringify(person('Practitioner', 'Moreau', 'Camille'), null, 0).replace(
        '"resourceType":"Practitioner"',
        '"resourceType" :\t "Practitioner"',
      ),
      JSON.stringify(person('Person', 'Haddad', 'Karim')),
      // Named, but not a person: `Patients` is no type, and a reference or a code is not a resource.
      JSON.stringify({ ...person('Patients', 'Notaname', 'Neither'), code: { text: 'Patient' } }),
      JSON.stringify({ resourceType: 'Group', name: 'Patient', member: [{ entity: { reference: 'Patient/p1' } }] }),
    ];
    const file = join(dir, 'people.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    expect(await latinOf([file])).toEqual(
      latinOfPeople([
        person('RelatedPerson', 'Okafor', 'Chidi'),
        person('Patient', 'Lindqvist', 'Astrid'),
        person('Practitioner', 'Moreau', 'Camille'),
        person('Person', 'Haddad', 'Karim'),
      ]),
    );
  });

  it('finds a person whose line straddles the reader’s blocks, in a gzipped file and in a Bundle document', async () => {
    const filler = JSON.stringify({ resourceType: 'Observation', note: [{ text: 'x'.repeat(4000) }] });
    const lines = Array.from({ length: 600 }, () => filler); // ~2.4 MB: several 1 MB blocks
    lines.splice(262, 0, JSON.stringify(person('Patient', 'Varga', 'Zsofia')));
    const gz = join(dir, 'big.ndjson.gz');
    writeFileSync(gz, gzipSync(`${lines.join('\n')}\n`));
    const bundle = join(dir, 'bundle.json');
    writeFileSync(
      bundle,
      JSON.stringify({ resourceType: 'Bundle', entry: [{ resource: person('Practitioner', 'Nakamura', 'Haruto') }] }),
    );
    expect(await latinOf([gz, bundle])).toEqual(
      latinOfPeople([person('Patient', 'Varga', 'Zsofia'), person('Practitioner', 'Nakamura', 'Haruto')]),
    );
  });

  it('reads lines longer than its buffer, and passes over lines beyond the record limit', async () => {
    // 9 MB lines: longer than the 8 MB the pass reads at a time.
    const long = (family: string, given: string) =>
      JSON.stringify({ ...person('Patient', family, given), text: { div: 'x'.repeat(9 << 20) } });
    const file = join(dir, 'long.ndjson');
    writeFileSync(
      file,
      `${[long('Brennan', 'Siobhan'), JSON.stringify(person('Patient', 'Kowalski', 'Marek')), long('Dube', 'Thandiwe')].join('\n')}\n`,
    );
    const all = latinOfPeople([
      person('Patient', 'Brennan', 'Siobhan'),
      person('Patient', 'Kowalski', 'Marek'),
      person('Patient', 'Dube', 'Thandiwe'),
    ]);
    expect((await gatherSeenNames([file], 64 << 20)).toData().latin.sort()).toEqual(all);
    // A limit of 8.5 MB: the long lines are the reader's to reject; the short one between them is still read.
    expect((await gatherSeenNames([file], 17 << 19)).toData().latin.sort()).toEqual(
      latinOfPeople([person('Patient', 'Kowalski', 'Marek')]),
    );
  });
});
