/**
 * The cohort builder's form state and the cohort definition it stands for (docs/cohorts.md,
 * docs/cohort.schema.json). The form covers the common shape — an entry concept set, age, sex, one event rule in
 * a window, an exit — and any definition at all can be loaded, edited and run as JSON.
 */

// The server's own list (a module without imports, so the browser bundle can take it).
import { DOMAINS, type Domain } from '../../src/cohort/cohort-domains.js';

export { DOMAINS, type Domain };

export interface Concept {
  system: string;
  code: string;
  display?: string | null;
  descendants?: boolean;
}

export interface CohortForm {
  name: string;
  entryDomain: Domain;
  entryConcepts: Concept[];
  occurrence: 'first' | 'all';
  ageMin: string;
  ageMax: string;
  sex: '' | 'male' | 'female';
  rule: {
    on: boolean;
    domain: Domain;
    concepts: Concept[];
    start: string;
    end: string;
    presence: 'present' | 'absent';
  };
  exitDays: string;
}

export const EMPTY_FORM: CohortForm = {
  name: 'New cohort',
  entryDomain: 'condition',
  entryConcepts: [],
  occurrence: 'first',
  ageMin: '',
  ageMax: '',
  sex: '',
  rule: { on: false, domain: 'condition', concepts: [], start: '-365', end: '0', presence: 'present' },
  exitDays: '',
};

const int = (s: string): number | undefined => (s.trim() === '' ? undefined : Math.trunc(Number(s)));
const concept = (c: Concept) => ({ system: c.system, code: c.code, ...(c.descendants && { descendants: true }) });

/** The definition the form describes (the hub validates it against the schema when it runs). */
export function toDefinition(f: CohortForm): Record<string, unknown> {
  const conceptSets: Record<string, { concepts: unknown[] }> = { entry: { concepts: f.entryConcepts.map(concept) } };
  const inclusion: Record<string, unknown>[] = [];
  const ageMin = int(f.ageMin);
  const ageMax = int(f.ageMax);
  if (ageMin !== undefined || ageMax !== undefined) {
    inclusion.push({
      name: `age ${ageMin ?? ''}–${ageMax ?? ''}`,
      age: { ...(ageMin !== undefined && { min: ageMin }), ...(ageMax !== undefined && { max: ageMax }) },
    });
  }
  if (f.sex !== '') inclusion.push({ name: f.sex, sex: [f.sex] });
  if (f.rule.on && f.rule.concepts.length > 0) {
    conceptSets.criterion = { concepts: f.rule.concepts.map(concept) };
    const start = int(f.rule.start);
    const end = int(f.rule.end);
    inclusion.push({
      name: `${f.rule.presence === 'present' ? 'with' : 'without'} ${f.rule.concepts.map((c) => c.code).join(', ')}`,
      events: {
        domain: f.rule.domain,
        conceptSet: 'criterion',
        window: { ...(start !== undefined && { start }), ...(end !== undefined && { end }) },
        count: f.rule.presence === 'present' ? { min: 1 } : { max: 0 },
      },
    });
  }
  const exitDays = int(f.exitDays);
  return {
    name: f.name.trim() || 'cohort',
    conceptSets,
    entry: { domain: f.entryDomain, conceptSet: 'entry', occurrence: f.occurrence },
    ...(inclusion.length > 0 && { inclusion }),
    exit: exitDays !== undefined ? { type: 'fixedOffset', days: exitDays } : { type: 'endOfData' },
  };
}
