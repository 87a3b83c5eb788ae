import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHub, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { expectNotOnDisk, storeText } from './support/leak-scan.js';
import { ingestOptions } from './support/temp-hub.js';

/** Identifiers planted in the input; none may survive anywhere under the data directory or in the logs. */
const PLANTED = {
  family: 'Zyxwvutsrq',
  given: 'Qwertyuiop',
  mother: 'Mnbvcxzlkj',
  rrnHyphen: '900101-1234567',
  rrnPlain: '8503152345678',
  mobile: '010-2468-1357',
  landline: '02-9753-8642',
  line: '77 Plantedstreet-ro',
  mrn: 'MRN-55501234',
  email: 'planted.person@example.kr',
};

describe('no raw direct identifier reaches disk, logs or the store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hm-leak-'));
  const input = mkdtempSync(join(tmpdir(), 'hm-leak-input-'));
  let storeValues = '';

  beforeAll(async () => {
    const patient = {
      resourceType: 'Patient',
      id: PLANTED.mrn,
      text: {
        status: 'generated',
        div: `<div xmlns="http://www.w3.org/1999/xhtml">${PLANTED.given} ${PLANTED.family}</div>`,
      },
      identifier: [
        { system: 'urn:kr:rrn', value: PLANTED.rrnHyphen },
        { system: 'urn:hospital:mrn', value: PLANTED.mrn },
      ],
      name: [{ family: PLANTED.family, given: [PLANTED.given] }],
      telecom: [
        { system: 'phone', value: PLANTED.mobile },
        { system: 'email', value: PLANTED.email },
      ],
      address: [{ line: [PLANTED.line], city: 'Gwangju', district: 'Buk-gu', postalCode: '61186' }],
      extension: [
        { url: 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName', valueString: PLANTED.mother },
      ],
      birthDate: '1990-01-01',
      gender: 'male',
    };
    const observation = {
      resourceType: 'Observation',
      id: 'obs-1',
      status: 'final',
      code: { text: 'note' },
      subject: { reference: `Patient/${PLANTED.mrn}`, display: `${PLANTED.given} ${PLANTED.family}` },
      valueString: `patient RRN ${PLANTED.rrnPlain}, reach at ${PLANTED.landline}`,
      note: [{ text: `${PLANTED.given} called from ${PLANTED.mobile}; RRN ${PLANTED.rrnHyphen}` }],
    };
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [patient, observation].map((resource) => ({
        resource,
        request: { method: 'POST', url: resource.resourceType },
      })),
    };
    // A rejected record whose invalid values are identifiers: the rejects file must not repeat them.
    const rejected = { resourceType: 'Patient', id: PLANTED.mrn, gender: PLANTED.rrnHyphen, birthDate: PLANTED.mobile };
    writeFileSync(join(input, 'bundle.json'), JSON.stringify(bundle));
    // In NDJSON the patient is not beside the record: the run's first pass knows their name from the bundle.
    const loose = {
      ...observation,
      id: 'obs-2',
      note: [{ text: `${PLANTED.given} called from ${PLANTED.mobile}; RRN ${PLANTED.rrnHyphen}; ${PLANTED.email}` }],
    };
    writeFileSync(join(input, 'more.ndjson'), `${JSON.stringify(rejected)}\n${JSON.stringify(loose)}\n`);

    await initHub(dir, { name: 'leak' });
    const hub = await openHub(dir); // the real file logger, so the log is scanned too
    const summary = await hub.ingest.ingestPaths([input], ingestOptions(hub));
    expect(summary.totals.created).toBe(3);
    expect(summary.totals.rejected).toBe(1);
    const app = await buildServer(hub);
    const token = readFileSync(hub.paths.adminToken, 'utf8').trim();
    const pid = (await hub.db.all<{ id: string }>("SELECT id FROM resource_head WHERE type = 'Patient'"))[0]!.id;
    for (const url of [`/fhir/Patient/${pid}`, `/fhir/Observation?patient=${pid}`, `/fhir/Patient/${PLANTED.mrn}`]) {
      await app.inject({ url, headers: { authorization: `Bearer ${token}` } });
    }
    await app.close();
    storeValues += await storeText(hub.db);
    await hub.close();
  }, 120_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(input, { recursive: true, force: true });
  });

  const needles = Object.entries(PLANTED).flatMap(([k, v]) => {
    const digits = v.replace(/\D/g, '');
    return digits.length >= 9 ? [[k, v] as const, [`${k} digits`, digits] as const] : [[k, v] as const];
  });

  it.each(needles)('no byte under the data directory holds %s', (_name, needle) => {
    expectNotOnDisk(dir, needle, ['hub.log', 'store.duckdb', 'rejects']);
  });

  it.each(needles)('no value read back from the store holds %s', (_name, needle) => {
    expect(storeValues.length).toBeGreaterThan(1000);
    expect(storeValues.includes(needle)).toBe(false);
  });

  it('keeps what analysis needs: city, district, birth month, gender', () => {
    expect(storeValues).toContain('Gwangju');
    expect(storeValues).toContain('Buk-gu');
    expect(storeValues).toContain('1990-01');
    expect(storeValues).not.toContain('1990-01-01');
  });
});
