import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ADDRESS_MASK,
  EMAIL_MASK,
  ID_MASK,
  NAME_MASK,
  PHONE_MASK,
  Pseudonymiser,
  ResourceDeidentifier,
  RRN_MASK,
  SeenNames,
  scrubText,
} from './index.js';

describe('scrubText', () => {
  it.each([
    ['주민번호 900101-1234567 입니다', RRN_MASK],
    ['RRN 9001011234567.', RRN_MASK],
    ['born 851231-2345678', RRN_MASK],
    ['call 010-1234-5678', PHONE_MASK],
    ['call 01012345678 now', PHONE_MASK],
    ['office 02-123-4567', PHONE_MASK],
    ['office 031-1234-5678', PHONE_MASK],
    ['intl +82-10-1234-5678', PHONE_MASK],
    ['US (617) 555-1234', PHONE_MASK],
    ['MRN-55501234 admitted', ID_MASK],
    ['MRN: 00123456', ID_MASK],
    ['등록번호 20231234 환자', ID_MASK],
    ['병록번호: 7788123', ID_MASK],
    ['광주 북구 용봉로 77, 101동 1203호', ADDRESS_MASK],
    ['주소: 중앙로12번길 5-3', ADDRESS_MASK],
    ['lives at 123 Teheran-ro, Gangnam-gu', ADDRESS_MASK],
    ['Gangnam-daero 4321 office', ADDRESS_MASK],
    ['1452 Maple Street, Springfield', ADDRESS_MASK],
  ])('masks the identifier in %s', (text, mask) => {
    const out = scrubText(text);
    expect(out).toContain(mask);
    expect(out.replace(/\D/g, '').length).toBeLessThan(3);
  });

  it('masks e-mail addresses', () => {
    expect(scrubText('mail gil.sun+ward@hospital.example.kr today')).toBe(`mail ${EMAIL_MASK} today`);
  });

  it.each([
    '2021-04-21T02:55:17+00:00',
    '137.7305818808263 cm',
    'LOINC 8302-2',
    'BP 120/80 mmHg',
    'claim 99999999999 group',
    '경구로 2회, 정맥으로 500 mg',
    '1일 1회 1정, 3일 후 재방문',
    'Glucose 5.4 mmol/L on 2 occasions',
  ])('leaves %s alone', (text) => {
    expect(scrubText(text)).toBe(text);
  });

  it('masks every generated resident registration number, hyphenated or not', () => {
    const rrn = fc
      .tuple(
        fc.integer({ min: 0, max: 99 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 28 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 999999 }),
        fc.boolean(),
      )
      .map(([y, m, d, g, rest, hyphen]) => {
        const p2 = (n: number) => String(n).padStart(2, '0');
        return `${p2(y)}${p2(m)}${p2(d)}${hyphen ? '-' : ''}${g}${String(rest).padStart(6, '0')}`;
      });
    fc.assert(
      fc.property(rrn, fc.string(), fc.string(), (id, before, after) => {
        const text = `${before.replace(/\d/g, '')} ${id} ${after.replace(/\d/g, '')}`;
        expect(scrubText(text)).not.toContain(id);
      }),
    );
  });

  it('masks every generated Korean mobile number', () => {
    const phone = fc
      .tuple(
        fc.constantFrom('010', '011', '016', '017', '019'),
        fc.integer({ min: 100, max: 9999 }),
        fc.integer({ min: 0, max: 9999 }),
        fc.constantFrom('-', ' ', '.', ''),
      )
      .map(([p, a, b, sep]) => `${p}${sep}${a}${sep}${String(b).padStart(4, '0')}`);
    fc.assert(
      fc.property(phone, (p) => {
        expect(scrubText(`tel: ${p}`)).not.toContain(p);
      }),
    );
  });
});

describe('SeenNames', () => {
  const names = new SeenNames();
  names.addResource({ resourceType: 'Patient', name: [{ family: '홍', given: ['길순'] }] });
  names.addResource({ resourceType: 'RelatedPerson', name: [{ text: '박정애' }] });
  names.addResource({ resourceType: 'Practitioner', name: [{ family: 'Okonkwo', given: ['Thaddeus', 'J'] }] });
  names.addResource({ resourceType: 'Observation', name: [{ text: '이상' }] }); // not a person

  it.each([
    ['홍길순 님 내원', `${NAME_MASK} 님 내원`],
    ['길순이가 어지러움 호소', `${NAME_MASK}이가 어지러움 호소`],
    ['딸 정애 방문', `딸 ${NAME_MASK} 방문`],
    ['seen with THADDEUS okonkwo', `seen with ${NAME_MASK} ${NAME_MASK}`],
    ['Okonkwo-Smith family', `${NAME_MASK} family`],
  ])('masks the seen names in %s', (text, masked) => {
    expect(names.mask(text)).toBe(masked);
  });

  it.each(['이상 없음', 'J wave on ECG', '홍반 있음', 'Thaddeusz'])('leaves %s alone', (text) => {
    expect(names.mask(text)).toBe(text);
  });

  it('crosses to worker threads as plain data', () => {
    const copy = SeenNames.from(structuredClone(names.toData()));
    expect(copy.mask('길순이가')).toBe(`${NAME_MASK}이가`);
  });
});

describe('Pseudonymiser', () => {
  const secret = Buffer.alloc(32, 7);
  it('derives stable keys that differ by source and by secret', () => {
    const p = new Pseudonymiser(secret);
    expect(p.patientKey('a', '123')).toBe(p.patientKey('a', '123'));
    expect(p.patientKey('a', '123')).not.toBe(p.patientKey('b', '123'));
    expect(new Pseudonymiser(Buffer.alloc(32, 8)).patientKey('a', '123')).not.toBe(p.patientKey('a', '123'));
    expect(p.patientKey('a', '123')).toMatch(/^[0-9a-f]{64}$/);
    expect(p.resourceId('a', 'Observation', '123')).toMatch(/^[0-9a-f]{32}$/);
    expect(p.resourceId('a', 'Patient', '123')).toBe(p.patientKey('a', '123'));
  });
  it('refuses a short secret', () => {
    expect(() => new Pseudonymiser(Buffer.alloc(8))).toThrow();
  });
});

describe('ResourceDeidentifier', () => {
  it('removes direct identifiers of a patient and generalises the birth date', () => {
    const d = new ResourceDeidentifier({ birthDatePrecision: 'month' });
    const patient = d.deidentify({
      resourceType: 'Patient',
      id: 'x',
      text: { status: 'generated', div: '<div>Hong Gildong</div>' },
      identifier: [{ system: 'urn:kr:rrn', value: '900101-1234567' }],
      name: [{ family: '홍', given: ['길동'] }],
      telecom: [{ system: 'phone', value: '010-1234-5678' }],
      address: [{ line: ['123 Teheran-ro'], city: 'Seoul', district: 'Gangnam-gu', postalCode: '06236' }],
      birthDate: '1990-01-15',
      extension: [
        { url: 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName', valueString: 'Kim' },
        { url: 'http://example.org/x', valueString: 'keep me' },
      ],
      contact: [{ name: { family: 'Hong' } }],
      gender: 'male',
    });
    expect(patient).toEqual({
      resourceType: 'Patient',
      id: 'x',
      address: [{ city: 'Seoul', district: 'Gangnam-gu' }],
      birthDate: '1990-01',
      extension: [{ url: 'http://example.org/x', valueString: 'keep me' }],
      gender: 'male',
    });
  });

  it('drops display and identifier of references to people, masks names and numbers in free text', () => {
    const d = new ResourceDeidentifier({ birthDatePrecision: 'year' });
    const obs = d.deidentify(
      {
        resourceType: 'Observation',
        subject: { reference: 'Patient/abc', display: 'Hong Gildong' },
        performer: [{ reference: 'Practitioner/p', display: 'Dr. Lee' }],
        note: [{ text: 'Gildong called from 010-9876-5432 about RRN 9001011234567' }],
        presentedForm: [
          { contentType: 'text/plain', data: Buffer.from('Patient Hong said 02-555-1234').toString('base64') },
        ],
      },
      ['Hong', 'Gildong'],
    );
    expect(obs.subject).toEqual({ reference: 'Patient/abc' });
    // Staff are people too: a reference to a practitioner keeps no display.
    expect((obs.performer as unknown[])[0]).toEqual({ reference: 'Practitioner/p' });
    const note = JSON.stringify(obs.note);
    for (const s of ['Gildong', '010-9876-5432', '9001011234567']) expect(note).not.toContain(s);
    const form = Buffer.from((obs.presentedForm as { data: string }[])[0]!.data, 'base64').toString();
    expect(form).not.toContain('Hong');
    expect(form).not.toContain('02-555-1234');
  });
});
