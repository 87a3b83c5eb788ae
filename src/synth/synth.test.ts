import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHealthmeshError } from '../core/index.js';
import type { RegionId } from './index.js';
import { DISEASES, generateRegion, REGION_IDS, residentRegistrationNumber } from './index.js';
import { Rng } from './random.js';

type Json = Record<string, unknown>;

function readNdjson(file: string): Json[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Json);
}

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

const RRN_WEIGHTS = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
function rrnChecksumOk(rrn: string): boolean {
  const d = rrn.replace('-', '');
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(d[i]) * (RRN_WEIGHTS[i] ?? 0);
  return (11 - (sum % 11)) % 10 === Number(d[12]);
}

function rrnOf(patient: Json): string | undefined {
  const ids = patient.identifier as { system: string; value: string }[];
  return ids.find((i) => i.system.endsWith('kr-rrn'))?.value;
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hm-synth-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('synthetic population: determinism', () => {
  it('writes byte-identical output for the same seed, and different output for another seed', () => {
    const a = join(root, 'a');
    const b = join(root, 'b');
    const c = join(root, 'c');
    generateRegion({ region: 'gwangju', people: 120, seed: 7, out: a });
    generateRegion({ region: 'gwangju', people: 120, seed: 7, out: b });
    generateRegion({ region: 'gwangju', people: 120, seed: 8, out: c });
    const files = filesUnder(a).sort();
    expect(files).toEqual(filesUnder(b).sort());
    expect(files).toContain('truth/risk.ndjson');
    for (const f of files) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    expect(readFileSync(join(c, 'Patient.ndjson')).equals(readFileSync(join(a, 'Patient.ndjson')))).toBe(false);
  });

  it('writes only the types asked for, each file byte-identical to a full run of the same seed', () => {
    const full = join(root, 'a'); // the first test's output: seed 7, 120 people
    const some = join(root, 'types');
    const types = ['Patient', 'Encounter', 'Condition', 'Organization'];
    const summary = generateRegion({ region: 'gwangju', people: 120, seed: 7, out: some, types });
    const written = filesUnder(some).filter((f) => f.endsWith('.ndjson') && !f.startsWith('truth/'));
    expect(written.sort()).toEqual(types.map((t) => `${t}.ndjson`).sort());
    for (const f of [...written, 'truth/risk.ndjson', 'truth/epidemic.ndjson']) {
      expect(readFileSync(join(some, f)).equals(readFileSync(join(full, f))), f).toBe(true);
    }
    const lines = (f: string) => readFileSync(join(some, f), 'utf8').split('\n').filter(Boolean).length;
    expect(summary.resources).toBe(written.reduce((n, f) => n + lines(f), 0));
    expect(Object.keys(summary.files).sort()).toEqual([...types].sort());
  });

  it('derives independent streams from labels', () => {
    const x = Rng.of(1, 'gwangju', 'person', 0);
    const y = Rng.of(1, 'gwangju', 'person', 1);
    expect(x.uint32()).not.toBe(y.uint32());
    const r = Rng.of('moments');
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < 20000; i++) {
      const z = r.normal();
      sum += z;
      sq += z * z;
    }
    expect(Math.abs(sum / 20000)).toBeLessThan(0.03);
    expect(Math.abs(sq / 20000 - 1)).toBeLessThan(0.04);
  });

  it('refuses a population of zero and a window too short for the 5-year truth', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isHealthmeshError(e) ? e.code : String(e);
      }
      return 'no error';
    };
    expect(codeOf(() => generateRegion({ region: 'busan', people: 0, seed: 1, out: join(root, 'x') }))).toBe(
      'SYNTH_INVALID_OPTION',
    );
    expect(codeOf(() => generateRegion({ region: 'busan', people: 5, seed: 1, out: join(root, 'x'), years: 5 }))).toBe(
      'SYNTH_INVALID_OPTION',
    );
    const typed = (types: string[]) => () =>
      generateRegion({ region: 'busan', people: 5, seed: 1, out: join(root, 'x'), types });
    expect(codeOf(typed(['Patient', 'Obsevation']))).toBe('SYNTH_INVALID_OPTION');
    expect(codeOf(typed([]))).toBe('SYNTH_INVALID_OPTION');
  });
});

describe('synthetic population: three regions', () => {
  const N = 600;
  const out: Record<string, string> = {};
  beforeAll(() => {
    for (const r of REGION_IDS) {
      out[r] = join(root, 'fed', r);
      generateRegion({ region: r, people: N, seed: 'fed', out: out[r] });
    }
  });

  it('gives every patient real-looking direct identifiers, with valid resident registration numbers', () => {
    const patients = readNdjson(join(out.gwangju!, 'Patient.ndjson'));
    expect(patients.length).toBeGreaterThanOrEqual(N);
    for (const p of patients) {
      const rrn = rrnOf(p);
      expect(rrn).toMatch(/^\d{6}-[1-4]\d{6}$/);
      expect(rrnChecksumOk(rrn!)).toBe(true);
      expect((p.name as Json[])[0]?.family).toMatch(/^\p{Script=Hangul}$/u);
      expect((p.telecom as Json[])[0]?.value).toMatch(/^010-\d{4}-\d{4}$/);
      expect(((p.address as { line: string[] }[])[0]?.line ?? [])[0]).toBeTruthy();
    }
    expect(rrnChecksumOk(residentRegistrationNumber(Rng.of('x'), 0, 'female'))).toBe(true);
    // Free text carries identifiers too, as real notes do.
    const notes = [
      ...readNdjson(join(out.gwangju!, 'Condition.ndjson')),
      ...readNdjson(join(out.gwangju!, 'Observation.ndjson')),
    ]
      .flatMap((r) => (r.note as { text: string }[] | undefined) ?? [])
      .map((n) => n.text);
    expect(notes.some((t) => /\d{6}-\d{7}/.test(t) || /010-\d{4}-\d{4}/.test(t))).toBe(true);
  });

  it('puts each traveller in both regions under the same resident registration number, and each resident once', () => {
    const patientsBy = Object.fromEntries(
      REGION_IDS.map((r) => [
        r,
        new Map(readNdjson(join(out[r]!, 'Patient.ndjson')).map((p) => [String(p.id), rrnOf(p)])),
      ]),
    ) as Record<RegionId, Map<string, string | undefined>>;
    let travellers = 0;
    for (const r of REGION_IDS) {
      for (const t of readNdjson(join(out[r]!, 'truth', 'persons.ndjson'))) {
        const home = patientsBy[r].get(String(t.patient));
        expect(home).toBeDefined();
        if (t.alsoIn === null) continue;
        travellers++;
        expect(patientsBy[t.alsoIn as RegionId].get(String(t.alsoInPatient))).toBe(home);
      }
    }
    // About 3% of 3 x 600 people; a binomial draw, so a wide band.
    expect(travellers).toBeGreaterThan(25);
    expect(travellers).toBeLessThan(90);
    const all = REGION_IDS.flatMap((r) => [...patientsBy[r].values()]);
    expect(all.length).toBe(3 * N + travellers);
    expect(new Set(all).size).toBe(3 * N);
  });

  it('writes only references that resolve inside the same region output', () => {
    for (const r of REGION_IDS) {
      const ids = new Set<string>();
      const refs: string[] = [];
      for (const f of readdirSync(out[r]!).filter((f) => f.endsWith('.ndjson'))) {
        for (const res of readNdjson(join(out[r]!, f))) {
          ids.add(`${String(res.resourceType)}/${String(res.id)}`);
          JSON.stringify(res, (k, v: unknown) => {
            if (k === 'reference' && typeof v === 'string') refs.push(v);
            return v;
          });
        }
      }
      expect(refs.length).toBeGreaterThan(1000);
      expect(refs.filter((ref) => !ids.has(ref))).toEqual([]);
    }
  });

  it('makes Busan older than Gyeonggi, as the statistics say', () => {
    const share65 = (r: RegionId) => {
      const people = readNdjson(join(out[r]!, 'truth', 'persons.ndjson')).filter((p) => p.deathDate === null);
      return people.filter((p) => 2025 - Number(String(p.birthDate).slice(0, 4)) >= 65).length / people.length;
    };
    expect(share65('busan') - share65('gyeonggi')).toBeGreaterThan(0.03);
  });

  it('writes every chronic disease, with ICD-10 and SNOMED codes, and the other resource types', () => {
    const files = readdirSync(out.busan!).filter((f) => f.endsWith('.ndjson'));
    for (const t of [
      'Patient',
      'Encounter',
      'Condition',
      'Observation',
      'MedicationRequest',
      'Immunization',
      'Procedure',
      'Consent',
      'Device',
      'Organization',
    ]) {
      expect(files).toContain(`${t}.ndjson`);
    }
    const codes = new Set(
      readNdjson(join(out.busan!, 'Condition.ndjson')).flatMap((c) =>
        ((c.code as Json).coding as { code: string }[]).map((x) => x.code),
      ),
    );
    for (const d of DISEASES)
      expect(
        d.codes.some((c) => codes.has(c.icd10) && codes.has(c.snomed)),
        d.id,
      ).toBe(true);
    const optOuts = readNdjson(join(out.busan!, 'Consent.ndjson')).filter((c) => (c.provision as Json).type === 'deny');
    expect(optOuts.length).toBeGreaterThan(0);
  });
});
