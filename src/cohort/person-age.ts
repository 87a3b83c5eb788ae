/**
 * Whole years of age on the date `d` (an SQL expression) of a `cohort_person` row aliased `p`. The birthday is the
 * birth day when the source gives one (FHIR `birthDate`, OMOP `day_of_birth`) and the first of the birth month
 * otherwise, so a month-only birth date ages a person on the first of their month, as before days were kept.
 */
export function wholeAgeSql(d: string, p: string): string {
  const month = `EXTRACT(MONTH FROM ${d})`;
  return `(EXTRACT(YEAR FROM ${d}) - ${p}.birth_year - CASE WHEN ${month} < ${p}.birth_month OR (${month} = ${p}.birth_month AND EXTRACT(DAY FROM ${d}) < COALESCE(${p}.birth_day, 1)) THEN 1 ELSE 0 END)`;
}
