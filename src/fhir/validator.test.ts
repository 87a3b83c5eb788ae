import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResourceValidator, type ValidationIssue } from './validator.js';

const DATA = new URL('../../../shared/data/', import.meta.url);
const SYNTHEA = new URL('synthea-fhir-r4/bundles-gz/', DATA);
const EXAMPLES = new URL('fhir-r4/examples/', DATA);
const hasData = existsSync(SYNTHEA) && existsSync(EXAMPLES);
const skipData = !hasData && process.env.CI !== 'true';
if (skipData)
  console.warn(`validator.test: ${DATA.pathname} is absent; skipping the Synthea and official-example tests`);

const validator = ResourceValidator.r4();
const validate = (resource: unknown) => validator.validate(resource);
const where = (issues: ValidationIssue[]) => issues.map((i) => [i.code, i.path]);

type Json = Record<string, unknown>;
const observation = (extra: Json = {}): Json => ({
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'Body weight' },
  ...extra,
});
const patient = (extra: Json = {}): Json => ({ resourceType: 'Patient', ...extra });

/**
 * Official examples our validator rejects, each a genuine error in the example: the path of every issue and
 * why. medplum's validateResource also reports the two missing elements; it does not check reference syntax.
 */
const EXPECTED_REJECTS: Record<string, { paths: string[]; reason: string }> = {
  'ig-r4.json': {
    paths: [
      'ImplementationGuide.manifest.resource[11904].reference.reference',
      'ImplementationGuide.name',
      'ImplementationGuide.status',
    ],
    reason:
      'the R4 core IG manifest omits required name and status, and references ' +
      'SearchParameter/questionnaireresponse-extensions-QuestionnaireResponse-item-subject, an id of 68 characters (R4 ids are at most 64)',
  },
};

describe.skipIf(skipData)('ResourceValidator on real data', () => {
  it('finds the shared test data (required when CI=true)', () => {
    expect(hasData).toBe(true);
  });

  it('accepts every resource and bundle of the 100 Synthea patients', () => {
    const rejected: string[] = [];
    let resources = 0;
    // Five of the stored names read `<uuid>.json".gz`, so match on `.gz` alone.
    for (const file of readdirSync(SYNTHEA).filter((f) => f.endsWith('.gz'))) {
      const bundle = JSON.parse(gunzipSync(readFileSync(new URL(file, SYNTHEA))).toString('utf8')) as {
        entry: { resource: unknown }[];
      };
      for (const issue of validate(bundle)) rejected.push(`${file}: ${issue.path}: ${issue.message}`);
      for (const { resource } of bundle.entry) {
        resources++;
        for (const issue of validate(resource)) rejected.push(`${file}: ${issue.path}: ${issue.message}`);
      }
    }
    expect(rejected.slice(0, 20)).toEqual([]);
    expect(resources).toBe(32_368);
  });

  it('accepts every official example except the listed genuine errors, which it locates by path', () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(141);
    for (const file of files) {
      const issues = validate(JSON.parse(readFileSync(new URL(file, EXAMPLES), 'utf8')));
      const expected = EXPECTED_REJECTS[file];
      expect({ file, paths: issues.map((i) => i.path) }).toEqual({ file, paths: expected?.paths ?? [] });
    }
  });
});

describe('ResourceValidator checks', () => {
  it('accepts a minimal resource and knows the concrete R4 resource types', () => {
    expect(validate(observation())).toEqual([]);
    expect(validator.isResourceType('Patient')).toBe(true);
    expect(validator.isResourceType('DomainResource')).toBe(false);
    expect(validator.isResourceType('SubscriptionStatus')).toBe(false); // R4B, added by medplum
    expect(ResourceValidator.r4()).toBe(validator);
  });

  it('rejects unknown and abstract resource types and non-objects', () => {
    expect(where(validate({ resourceType: 'Foo' }))).toEqual([['FHIR_UNKNOWN_RESOURCE_TYPE', 'Resource.resourceType']]);
    expect(where(validate({ resourceType: 'DomainResource' }))).toEqual([
      ['FHIR_UNKNOWN_RESOURCE_TYPE', 'Resource.resourceType'],
    ]);
    expect(where(validate({ id: 'x' }))).toEqual([['FHIR_UNKNOWN_RESOURCE_TYPE', 'Resource.resourceType']]);
    for (const bad of [null, [], 'Patient', 3]) expect(where(validate(bad))).toEqual([['FHIR_STRUCTURE', 'Resource']]);
  });

  it('rejects unknown elements, including resourceType inside a data type', () => {
    expect(where(validate(patient({ foo: 1 })))).toEqual([['FHIR_UNKNOWN_ELEMENT', 'Patient.foo']]);
    expect(where(validate(patient({ name: [{ resourceType: 'HumanName' }] })))).toEqual([
      ['FHIR_UNKNOWN_ELEMENT', 'Patient.name[0].resourceType'],
    ]);
  });

  it('accepts only the choice types that value[x] allows, and only one of them', () => {
    expect(validate(observation({ valueQuantity: { value: 72.5, unit: 'kg' } }))).toEqual([]);
    const wrong = validate(observation({ valueAttachment: { url: 'http://x.org/a.png' } }));
    expect(where(wrong)).toEqual([['FHIR_UNKNOWN_ELEMENT', 'Observation.valueAttachment']]);
    expect(wrong[0]?.message).toContain('Quantity');
    expect(where(validate(observation({ valueString: 'a', valueBoolean: true })))).toEqual([
      ['FHIR_CARDINALITY', 'Observation.valueBoolean'],
    ]);
  });

  it('reports missing required elements, which a "_" extension sibling satisfies', () => {
    const { status: _, ...noStatus } = observation();
    expect(where(validate(noStatus))).toEqual([['FHIR_REQUIRED', 'Observation.status']]);
    const absent = {
      extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }],
    };
    expect(validate({ ...noStatus, _status: absent })).toEqual([]);
    expect(where(validate(observation({ component: [{ valueString: 'x' }] })))).toEqual([
      ['FHIR_REQUIRED', 'Observation.component[0].code'],
    ]);
  });

  it('requires arrays for repeating elements and single values otherwise', () => {
    expect(where(validate(patient({ name: { family: 'Chalmers' } })))).toEqual([['FHIR_CARDINALITY', 'Patient.name']]);
    expect(where(validate(patient({ birthDate: ['1974-12-25'] })))).toEqual([
      ['FHIR_CARDINALITY', 'Patient.birthDate'],
    ]);
  });

  it('rejects empty objects, empty arrays and nulls', () => {
    expect(where(validate(observation({ code: {} })))).toEqual([['FHIR_STRUCTURE', 'Observation.code']]);
    expect(where(validate(patient({ name: [] })))).toEqual([['FHIR_STRUCTURE', 'Patient.name']]);
    expect(where(validate(patient({ active: null })))).toEqual([['FHIR_STRUCTURE', 'Patient.active']]);
    expect(where(validate(patient({ name: [{ given: ['Jim', null] }] })))).toEqual([
      ['FHIR_STRUCTURE', 'Patient.name[0].given[1]'],
    ]);
  });

  it('accepts _birthDate and aligned _given extension siblings, and checks their content', () => {
    const ext = { extension: [{ url: 'http://example.org/precision', valueString: 'estimated' }] };
    expect(validate(patient({ birthDate: '1974-12-25', _birthDate: ext }))).toEqual([]);
    expect(validate(patient({ _birthDate: ext }))).toEqual([]);
    expect(validate(patient({ name: [{ given: ['Jim', null], _given: [null, ext] }] }))).toEqual([]);
    expect(where(validate(patient({ _birthDate: {} })))).toEqual([['FHIR_STRUCTURE', 'Patient._birthDate']]);
    expect(where(validate(patient({ _birthDate: { value: 1 } })))).toEqual([
      ['FHIR_UNKNOWN_ELEMENT', 'Patient._birthDate.value'],
    ]);
    expect(where(validate(patient({ name: [{ given: ['Jim'], _given: [null, ext] }] })))).toEqual([
      ['FHIR_STRUCTURE', 'Patient.name[0]._given'],
    ]);
    expect(where(validate(patient({ name: [{ _given: [null] }] })))).toEqual([
      ['FHIR_STRUCTURE', 'Patient.name[0]._given[0]'],
    ]);
    expect(where(validate(patient({ _name: ext })))).toEqual([['FHIR_UNKNOWN_ELEMENT', 'Patient._name']]);
  });

  it('rejects dates that are not on the calendar', () => {
    expect(where(validate(patient({ birthDate: '2021-02-30' })))).toEqual([['FHIR_PRIMITIVE', 'Patient.birthDate']]);
    for (const bad of ['2021-02-29', '1900-02-29', '2020-13-01', '2020-04-31', '0000', '20-01-01']) {
      expect(where(validate(patient({ birthDate: bad }))), bad).toEqual([['FHIR_PRIMITIVE', 'Patient.birthDate']]);
    }
    for (const good of ['2020-02-29', '2000-02-29', '2020', '2020-12', '2020-12-31']) {
      expect(validate(patient({ birthDate: good })), good).toEqual([]);
    }
    expect(validate(patient({ birthDate: '2020-13-45' }))[0]?.message).toBe(
      'invalid date "2020-13-45": expected YYYY, YYYY-MM or YYYY-MM-DD, as a real calendar date',
    );
  });

  it('requires a timezone on a dateTime with a time, and a full instant', () => {
    const issues = validate(observation({ effectiveDateTime: '2021-03-01T10:00:00' }));
    expect(where(issues)).toEqual([['FHIR_PRIMITIVE', 'Observation.effectiveDateTime']]);
    expect(issues[0]?.message).toContain('timezone');
    for (const good of ['2021-03-01T10:00:00Z', '2021-03-01T10:00:00.123+14:00', '2021-03-01', '2021']) {
      expect(validate(observation({ effectiveDateTime: good })), good).toEqual([]);
    }
    expect(where(validate(observation({ issued: '2021-03-01' })))).toEqual([['FHIR_PRIMITIVE', 'Observation.issued']]);
    expect(where(validate(observation({ valueTime: '25:00:00' })))).toEqual([
      ['FHIR_PRIMITIVE', 'Observation.valueTime'],
    ]);
  });

  it('keeps integers in the 32-bit range and numbers as JSON numbers', () => {
    const component = (valueInteger: unknown) => ({ code: { text: 'c' }, valueInteger });
    const issues = validate(observation({ component: [component(1), component(2 ** 31)] }));
    expect(where(issues)).toEqual([['FHIR_PRIMITIVE', 'Observation.component[1].valueInteger']]);
    expect(validate(observation({ component: [component(-(2 ** 31))] }))).toEqual([]);
    expect(where(validate(observation({ valueInteger: 1.5 })))).toEqual([
      ['FHIR_PRIMITIVE', 'Observation.valueInteger'],
    ]);
    expect(where(validate(observation({ valueQuantity: { value: '72.5' } })))).toEqual([
      ['FHIR_PRIMITIVE', 'Observation.valueQuantity.value'],
    ]);
  });

  it('rejects a string where JSON true or false belongs', () => {
    expect(where(validate(patient({ active: 'true' })))).toEqual([['FHIR_PRIMITIVE', 'Patient.active']]);
  });

  it('checks resource ids and code lexical forms', () => {
    for (const bad of ['a b', 'x'.repeat(65), 'pat_1', '']) {
      expect(where(validate(patient({ id: bad }))), bad).toEqual([['FHIR_PRIMITIVE', 'Patient.id']]);
    }
    expect(validate(patient({ id: 'A-1.b' }))).toEqual([]);
    expect(where(validate(patient({ gender: 'male ' })))).toEqual([['FHIR_PRIMITIVE', 'Patient.gender']]);
  });

  it('checks Reference.reference syntax', () => {
    const ref = (reference: string) => validate(observation({ subject: { reference } }));
    const good = [
      'Patient/123',
      'Patient/123/_history/2',
      'http://example.org/fhir/Patient/123',
      'urn:uuid:d4fb3bba-73a9-4b82-a0bc-678d47f386b4',
      'urn:oid:1.2.840.113619',
      '#p1',
      'Patient?identifier=http://hospital.example.org|12345',
    ];
    for (const r of good) expect(ref(r), r).toEqual([]);
    for (const r of ['Patient 123', 'Foo/123', 'patient/123', 'urn:uuid:123', 'Patient/', '#a b', 'Patient/a_b']) {
      expect(where(ref(r)), r).toEqual([['FHIR_REFERENCE_SYNTAX', 'Observation.subject.reference']]);
    }
  });

  it('rejects strings longer than 1 MiB without quoting them', () => {
    const issues = validate(patient({ name: [{ text: 'a'.repeat(1_100_000) }] }));
    expect(where(issues)).toEqual([['FHIR_PRIMITIVE', 'Patient.name[0].text']]);
    expect(issues[0]!.message.length).toBeLessThan(200);
    expect(where(validate(patient({ name: [{ text: 'line\u0007' }] })))).toEqual([
      ['FHIR_PRIMITIVE', 'Patient.name[0].text'],
    ]);
  });

  it('checks codes against expandable required bindings', () => {
    const issues = validate(observation({ status: 'done' }));
    expect(where(issues)).toEqual([['FHIR_PRIMITIVE', 'Observation.status']]);
    expect(issues[0]?.message).toContain('final');
    expect(where(validate(patient({ gender: 'M' })))).toEqual([['FHIR_PRIMITIVE', 'Patient.gender']]);
    // Attachment.contentType binds to BCP-13 mime types, which valuesets.json cannot expand: not checked.
    expect(validate(patient({ photo: [{ contentType: 'image/x-made-up' }] }))).toEqual([]);
  });

  it('forbids a comparator on a SimpleQuantity', () => {
    const range = { referenceRange: [{ low: { value: 1, comparator: '<' } }] };
    expect(where(validate(observation(range)))).toEqual([
      ['FHIR_CARDINALITY', 'Observation.referenceRange[0].low.comparator'],
    ]);
  });

  it('validates extensions: url required, any value type, nesting', () => {
    const nested = { url: 'http://example.org/a', extension: [{ url: 'b', valueCodeableConcept: { text: 'x' } }] };
    expect(validate(patient({ extension: [nested] }))).toEqual([]);
    expect(where(validate(patient({ extension: [{ valueString: 'x' }] })))).toEqual([
      ['FHIR_REQUIRED', 'Patient.extension[0].url'],
    ]);
    expect(where(validate(patient({ extension: [{ url: 'a', valueFoo: 'x' }] })))).toEqual([
      ['FHIR_UNKNOWN_ELEMENT', 'Patient.extension[0].valueFoo'],
    ]);
  });

  it('validates contained resources with paths inside the container', () => {
    const request = { resourceType: 'ServiceRequest', id: 'sr1', intent: 'order', subject: { reference: 'Patient/1' } };
    expect(where(validate(observation({ contained: [request] })))).toEqual([
      ['FHIR_REQUIRED', 'Observation.contained[0].status'],
    ]);
    expect(where(validate(observation({ contained: [{ resourceType: 'Nope' }] })))).toEqual([
      ['FHIR_UNKNOWN_RESOURCE_TYPE', 'Observation.contained[0].resourceType'],
    ]);
  });

  it('stops after maxIssues', () => {
    const bad = patient(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`x${i}`, i])));
    expect(validate(bad)).toHaveLength(20);
    expect(validator.validate(bad, 3)).toHaveLength(3);
  });
});

describe('ResourceValidator on arbitrary input', () => {
  const CODES = new Set([
    'FHIR_UNKNOWN_RESOURCE_TYPE',
    'FHIR_UNKNOWN_ELEMENT',
    'FHIR_REQUIRED',
    'FHIR_CARDINALITY',
    'FHIR_PRIMITIVE',
    'FHIR_REFERENCE_SYNTAX',
    'FHIR_STRUCTURE',
  ]);
  const wellFormed = (issues: ValidationIssue[]) =>
    issues.length <= 20 && issues.every((i) => CODES.has(i.code) && i.path.length > 0 && i.message.length > 0);
  const keys = ['id', 'meta', 'text', 'name', 'birthDate', '_birthDate', 'extension', 'contained', 'status'];
  const keys2 = ['code', 'subject', 'valueQuantity', 'component', 'reference', 'value', 'url', 'given', '_given'];
  const element = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      fc.jsonValue({ maxDepth: 1 }),
      fc.array(tie('node'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom(...keys, ...keys2), tie('node'), { maxKeys: 4 }),
    ),
  })).node;

  it('never throws on random JSON and always returns well-formed issues', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => wellFormed(validate(value))));
  });

  it('never throws on resource-shaped random input', () => {
    const resource = fc.record({
      resourceType: fc.constantFrom('Patient', 'Observation', 'Bundle', 'Foo'),
      body: fc.dictionary(fc.constantFrom(...keys, ...keys2), element, { maxKeys: 6 }),
    });
    fc.assert(fc.property(resource, ({ resourceType, body }) => wellFormed(validate({ ...body, resourceType }))));
  });

  it('never quotes more than 40 characters of a value', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 41, maxLength: 200 }),
        fc.constantFrom('birthDate', 'id', 'gender'),
        (s, key) => {
          const value = `#${s.replaceAll('#', '')}${'#'.repeat(41)}`;
          return validate(patient({ [key]: value })).every((i) => !i.message.includes('#'.repeat(41)));
        },
      ),
    );
  });

  it('survives cyclic objects and throwing getters', () => {
    const cyclic: Json = { url: 'http://x' };
    cyclic.extension = [cyclic];
    expect(validate(patient({ extension: [cyclic] })).length).toBeGreaterThan(0);
    const hostile = patient();
    Object.defineProperty(hostile, 'active', {
      enumerable: true,
      get: () => {
        throw new Error('boom');
      },
    });
    expect(where(validate(hostile))).toEqual([['FHIR_STRUCTURE', 'Resource']]);
  });
});
