/** The analytic table each cohort domain reads: a project must have been approved for it. */
export const DOMAIN_TABLE: Readonly<Record<string, string>> = {
  condition: 'condition',
  observation: 'observation',
  measurement: 'observation',
  medication: 'medication_request',
  procedure: 'procedure',
  encounter: 'encounter',
  immunization: 'immunization',
};

/**
 * The analytic tables a cohort definition reads: each `domain` it names, and observations for measurement-value
 * criteria. Walks the raw definition, so a hub can check a definition it received before validating it.
 */
export function cohortTables(definition: unknown): string[] {
  const tables = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.domain === 'string' && DOMAIN_TABLE[o.domain]) tables.add(DOMAIN_TABLE[o.domain]!);
      if (o.domain === undefined && o.conceptSet !== undefined && o.value !== undefined) tables.add('observation');
      for (const [k, x] of Object.entries(o)) if (k !== 'conceptSets') walk(x);
    }
  };
  walk(definition);
  return [...tables].sort();
}
