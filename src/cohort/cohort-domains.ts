/**
 * The event domains a cohort definition can name. A module of its own, without imports, so the web console's
 * cohort builder (a browser bundle, which cannot load the server's modules) offers exactly these.
 */
export const DOMAINS = [
  'condition',
  'observation',
  'measurement',
  'medication',
  'procedure',
  'encounter',
  'immunization',
] as const;
export type Domain = (typeof DOMAINS)[number];
