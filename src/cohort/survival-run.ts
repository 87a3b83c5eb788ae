import type { HubServices as Hub } from '../context/index.js';
import type { Released } from '../privacy/index.js';
import { releaseCount, releaseTerms } from '../privacy/index.js';
import { characterise, timeToOutcome } from './characterisation.js';
import { cohortTerms } from './cohort-release.js';
import { runCohort } from './cohort-runner.js';
import { validateCohortDefinition } from './cohort-validation.js';
import type { ReleasedSurvival } from './survival-release.js';
import { releaseSurvival } from './survival-release.js';

/**
 * A cohort's time to an outcome cohort on this hub (`POST /cohort/$survival`), released: the curve of
 * `releaseSurvival`, after the release log admitted its people (so two curves over populations a few people apart
 * are refused as differencing, as cohort counts are). People whose consent refuses `purpose` are left out.
 */
export async function releaseCohortSurvival(
  hub: Hub,
  input: { definition: unknown; outcome: unknown; stepDays?: number },
  requester: string,
  purpose: unknown,
): Promise<Released<ReleasedSurvival>> {
  const def = validateCohortDefinition(input.definition);
  const outcomeDef = validateCohortDefinition(input.outcome);
  const consent = await hub.consent.filter(purpose);
  await hub.derived.assertCurrent();
  const run = await runCohort(hub.db, def, hub.clock, consent);
  const outcome = await runCohort(hub.db, outcomeDef, hub.clock, consent);
  // Characterised first: with the consent filter it leaves out of the stored results anyone who refused since.
  await characterise(hub.db, run.cohortId, { outcomeCohortId: outcome.cohortId, consent, top: 1 });
  const times = await timeToOutcome(hub.db, run.cohortId, outcome.cohortId);
  const members = await hub.db.all<{ patient_key: string }>(
    'SELECT DISTINCT patient_key FROM cohort_result WHERE cohort_id = $1',
    [run.cohortId],
  );
  const events = times.filter((t) => t.event).length;
  const policy = hub.config.privacy.disclosure;
  await hub.releases.admit({
    requester,
    family: 'cohort.survival/population',
    terms: [...cohortTerms(def, consent.purpose), ...releaseTerms([outcomeDef])],
    cells: {
      persons: { count: times.length, released: releaseCount(times.length, policy) },
      events: { count: events, released: releaseCount(events, policy) },
    },
    population: members.map((m) => m.patient_key),
  });
  return releaseSurvival(hub.gate, times, input.stepDays !== undefined ? { stepDays: input.stepDays } : {});
}
