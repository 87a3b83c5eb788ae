import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHub, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { expectNotOnDisk, storeText } from './support/leak-scan.js';
import { ingestOptions } from './support/temp-hub.js';

/**
 * People and identifiers planted in free text, once in a transaction Bundle and once in NDJSON (a small file on
 * the main thread, a large one through the worker threads, and Patient.ndjson read after the notes that name the
 * patient). None may survive on disk, in the logs or in the store.
 */
const PEOPLE = {
  patientFamily: '홍',
  patientGiven: '길순',
  patientFull: '홍길순',
  guardianFull: '박정애', // the patient's daughter: a RelatedPerson
  doctorFull: '이준혁', // a Practitioner
  nurseFull: '최은비', // in no resource: found by context only
  husbandGiven: 'Thaddeus',
  husbandFamily: 'Okonkwo', // in no resource: found by context only
  gpFamily: 'Falkenrath', // Dr. Imogen Falkenrath, in no resource
  gpGiven: 'Imogen',
  nokGiven: 'Wilhelmina', // a RelatedPerson with a Latin name, named in a note without any cue
  nokFamily: 'Quarrington',
  romanised: 'Hong Gil-sun',
};
const IDS = {
  rrn: '820315-2345671',
  mobile: '010-3141-5926',
  landline: '062-555-7788',
  email: 'gilsun.hong@example.kr',
  mrn: 'MRN-55501234',
  registration: '등록번호 20231234',
  registrationNumber: '20231234',
  addressKo: '용봉로 77',
  addressLatin: '123 Teheran-ro',
};

function note(i: number): string {
  const p = PEOPLE;
  return [
    `${p.patientFull} 님(${IDS.rrn}) 어지러움으로 내원. 보호자 ${p.guardianFull}(딸) ${IDS.mobile}.`,
    `담당의 ${p.doctorFull} 교수, ${p.nurseFull} 간호사 활력징후 측정.`,
    `${p.patientGiven}이가 어제부터 식사를 못함. 주소 광주 북구 ${IDS.addressKo}.`,
    `Husband ${p.husbandGiven} ${p.husbandFamily} called from ${IDS.landline}; email ${IDS.email}.`,
    `Referred by Dr. ${p.gpGiven} ${p.gpFamily}. ${IDS.mrn}, ${IDS.registration}. ${p.romanised} lives at ${IDS.addressLatin}.`,
    `${p.nokGiven} ${p.nokFamily} will collect her. 정상 소견, 이상 없음 (${i}).`,
  ].join(' ');
}

function observation(id: string, i: number, subject: string) {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { text: 'nursing note' },
    subject: { reference: subject },
    performer: [{ reference: 'Practitioner/dr-1', display: `Dr. ${PEOPLE.doctorFull}` }],
    valueString: note(i),
    note: [{ text: note(i + 1) }],
  };
}

const patient = (id: string) => ({
  resourceType: 'Patient',
  id,
  name: [{ family: PEOPLE.patientFamily, given: [PEOPLE.patientGiven], text: PEOPLE.patientFull }],
  gender: 'female',
  birthDate: '1982-03-15',
});
const daughter = (id: string, patientId: string) => ({
  resourceType: 'RelatedPerson',
  id,
  patient: { reference: `Patient/${patientId}` },
  name: [{ text: PEOPLE.guardianFull }],
});
const kin = (id: string, patientId: string) => ({
  resourceType: 'RelatedPerson',
  id,
  patient: { reference: `Patient/${patientId}` },
  name: [{ family: PEOPLE.nokFamily, given: [PEOPLE.nokGiven] }],
});
const doctor = {
  resourceType: 'Practitioner',
  id: 'dr-1',
  name: [{ family: '이', given: ['준혁'] }],
};

describe('names and identifiers in free text are masked on every ingest path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hm-scrub-'));
  const input = mkdtempSync(join(tmpdir(), 'hm-scrub-input-'));
  let storeValues = '';
  let notes: string[] = [];

  beforeAll(async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        patient('b-pat'),
        daughter('b-rel', 'b-pat'),
        kin('b-kin', 'b-pat'),
        doctor,
        observation('b-obs', 0, 'Patient/b-pat'),
      ].map((resource) => ({ resource, request: { method: 'POST', url: resource.resourceType } })),
    };
    writeFileSync(join(input, 'a-bundle.json'), JSON.stringify(bundle));
    // Bulk Data order: one file per type, the notes before the people they name.
    const many: string[] = [];
    for (let i = 0; i < 600; i++) many.push(JSON.stringify(observation(`n-obs-${i}`, i, 'Patient/n-pat')));
    writeFileSync(join(input, 'b-Observation.ndjson'), `${many.join('\n')}\n`); // ~600 kB: the worker path
    writeFileSync(join(input, 'c-Note.ndjson'), `${JSON.stringify(observation('s-obs', 7, 'Patient/n-pat'))}\n`);
    writeFileSync(
      join(input, 'd-Patient.ndjson'),
      `${[patient('n-pat'), daughter('n-rel', 'n-pat'), kin('n-kin', 'n-pat')].map((r) => JSON.stringify(r)).join('\n')}\n`,
    );

    await initHub(dir, { name: 'scrub' });
    // The real file logger, so the log is scanned too; files of 100 kB or more go through two workers.
    const hub = await openHub(dir, { parallelIngest: { workers: 2, minFileBytes: 100_000 } });
    const summary = await hub.ingest.ingestPaths([input], ingestOptions(hub));
    expect(summary.totals.rejected).toBe(0);
    expect(summary.totals.created).toBe(5 + 600 + 1 + 3);
    const app = await buildServer(hub);
    const token = readFileSync(hub.paths.adminToken, 'utf8').trim();
    const obs = await app.inject({
      url: '/fhir/Observation?_count=1000',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(obs.statusCode).toBe(200);
    await app.close();
    storeValues += await storeText(hub.db);
    notes = (
      await hub.db.all<{ content: string }>("SELECT content FROM resource_version WHERE type = 'Observation'")
    ).map((r) => r.content);
    await hub.close();
  }, 180_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(input, { recursive: true, force: true });
  });

  const needles = [...Object.entries(PEOPLE), ...Object.entries(IDS)].filter(
    ([k]) => k !== 'patientFamily', // one syllable, which the notes' other words may hold
  );

  it.each(needles)('no byte under the data directory holds %s', (_name, needle) => {
    expectNotOnDisk(dir, needle, ['hub.log', 'store.duckdb']);
  });

  it.each(needles)('no value read back from the store holds %s', (_name, needle) => {
    expect(storeValues.length).toBeGreaterThan(10_000);
    expect(storeValues.includes(needle)).toBe(false);
  });

  it('masks with fixed tokens and keeps the clinical words', () => {
    expect(notes).toHaveLength(602);
    for (const n of notes) {
      for (const token of ['[NAME]', '[RRN]', '[PHONE]', '[EMAIL]', '[ID]', '[ADDRESS]']) expect(n).toContain(token);
      expect(n).toContain('정상 소견, 이상 없음');
      expect(n).toContain('어지러움으로 내원');
    }
  });
});
