import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../../src/core/index.js';

/**
 * A small population for validating a hypertension model, written as FHIR NDJSON (a few thousand resources, so it
 * ingests in seconds where the synthetic generator's region takes a minute): each person has an encounter in 2018
 * and in 2025 (observed across the 2021-01-01 index date), usually a systolic pressure and a BMI in 2020, and an
 * I10 hypertension with a probability from a logistic truth, either before the index date (left out as prevalent)
 * or within five years after it. The first `refuseValidation` people have a Consent refusing the `ai-validation`
 * purpose (docs/consent.md).
 */
export function writeValidationPopulation(dir: string, people: number, refuseValidation = 0, seed = 17): void {
  const rng = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const lines: Record<string, string[]> = { Patient: [], Encounter: [], Observation: [], Condition: [], Consent: [] };
  const ref = (id: string) => ({ reference: `Patient/${id}` });
  const day = (iso: string, plus: number) =>
    new Date(Date.parse(`${iso}T00:00:00Z`) + plus * 86_400_000).toISOString().slice(0, 10);
  for (let i = 0; i < people; i++) {
    const id = `vp${i}`;
    const age = 25 + Math.floor(rng.next() * 55);
    const male = rng.next() < 0.5;
    const sbp = 120 + 0.5 * (age - 50) + 15 * normal();
    const bmi = 24 + 3.5 * normal();
    lines.Patient!.push(
      JSON.stringify({
        resourceType: 'Patient',
        id,
        gender: male ? 'male' : 'female',
        birthDate: `${2021 - age - 1}-0${1 + (i % 9)}-15`,
      }),
    );
    if (i < refuseValidation) {
      lines.Consent!.push(
        JSON.stringify({
          resourceType: 'Consent',
          id: `${id}-consent`,
          status: 'active',
          scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'research' }] },
          category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
          patient: ref(id),
          dateTime: '2020-01-01T00:00:00Z',
          policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTOUT' }] },
          provision: {
            type: 'deny',
            purpose: [{ system: 'https://healthmesh.dev/fhir/CodeSystem/purpose-of-use', code: 'ai-validation' }],
          },
        }),
      );
    }
    for (const [k, start] of [
      ['a', '2018-06-01'],
      ['b', '2025-06-01'],
    ] as const) {
      lines.Encounter!.push(
        JSON.stringify({
          resourceType: 'Encounter',
          id: `${id}-${k}`,
          status: 'finished',
          class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
          subject: ref(id),
          period: { start, end: start },
        }),
      );
    }
    const observation = (k: string, code: string, value: number, unit: string) =>
      JSON.stringify({
        resourceType: 'Observation',
        id: `${id}-${k}`,
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code }] },
        subject: ref(id),
        effectiveDateTime: '2020-03-01',
        valueQuantity: { value: Math.round(value * 10) / 10, unit, system: 'http://unitsofmeasure.org', code: unit },
      });
    if (rng.next() < 0.85) lines.Observation!.push(observation('sbp', '8480-6', sbp, 'mm[Hg]'));
    if (rng.next() < 0.75) lines.Observation!.push(observation('bmi', '39156-5', bmi, 'kg/m2'));
    const z = -2.2 + 0.05 * (age - 50) + 0.03 * (sbp - 120) + 0.1 * (bmi - 24) + 0.2 * (male ? 1 : 0);
    const prevalent = rng.next() < 0.05;
    if (prevalent || rng.next() < 1 / (1 + Math.exp(-z))) {
      lines.Condition!.push(
        JSON.stringify({
          resourceType: 'Condition',
          id: `${id}-htn`,
          code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }] },
          subject: ref(id),
          onsetDateTime: prevalent ? '2019-05-01' : day('2021-01-01', 1 + Math.floor(rng.next() * 1800)),
        }),
      );
    }
  }
  for (const [type, rows] of Object.entries(lines)) writeFileSync(join(dir, `${type}.ndjson`), `${rows.join('\n')}\n`);
}
