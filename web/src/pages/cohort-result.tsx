import { Bars, Count, Section } from '../components.js';
import { useI18n } from '../i18n.js';

type Released = number | null;

export interface ReleasedCohort {
  hub: string;
  name: string;
  persons: Released;
  attrition: { step: string; persons: Released }[];
  ageSex: { rows: string[]; columns: string[]; cells: Released[][]; rowTotals: Released[]; columnTotals: Released[] };
  measurements: {
    system: string;
    code: string;
    unit: string | null;
    summary: { n: Released; mean?: number; sd?: number };
  }[];
}

export interface FederatedCohort {
  name: string;
  hubs: ReleasedCohort[];
  failed: { hub: string; kind: string; remoteCode?: string; message: string }[];
  /** Null when no hub answered. */
  summedPersons: number | null;
  distinctPersons?: Released;
}

export function isFederated(r: ReleasedCohort | FederatedCohort): r is FederatedCohort {
  return Array.isArray((r as FederatedCohort).hubs);
}

/** One hub's released cohort: its count, the attrition and the age/sex characterisation as charts. */
export function HubResult({ r }: { r: ReleasedCohort }) {
  const { t, num } = useI18n();
  return (
    <div class="result" data-testid={`cohort-result-${r.hub}`}>
      <p class="big">
        {r.hub}:{' '}
        <strong data-testid="cohort-persons">
          <Count value={r.persons} />
        </strong>{' '}
        {t('persons')}
      </p>
      <h3>{t('attrition')}</h3>
      <Bars label={t('attrition')} items={r.attrition.map((a) => ({ label: a.step, value: a.persons }))} />
      <h3>{t('ageSex')}</h3>
      <div class="two">
        <Bars
          label={t('ageBand')}
          items={r.ageSex.rows.map((row, i) => ({ label: row, value: r.ageSex.rowTotals[i] ?? null }))}
        />
        <Bars
          label={t('sex')}
          items={r.ageSex.columns.map((c, i) => ({ label: c, value: r.ageSex.columnTotals[i] ?? null }))}
        />
      </div>
      {r.measurements.length > 0 && (
        <>
          <h3>{t('measurements')}</h3>
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('code')}</th>
                  <th scope="col" class="num">
                    {t('n')}
                  </th>
                  <th scope="col" class="num">
                    {t('mean')}
                  </th>
                  <th scope="col" class="num">
                    {t('sd')}
                  </th>
                </tr>
              </thead>
              <tbody>
                {r.measurements.map((m) => (
                  <tr key={`${m.system}|${m.code}`}>
                    <td>
                      {m.code} {m.unit ?? ''}
                    </td>
                    <td class="num">
                      <Count value={m.summary.n} />
                    </td>
                    <td class="num">{num(m.summary.mean, 2)}</td>
                    <td class="num">{num(m.summary.sd, 2)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </div>
  );
}

export function CohortResult({ result }: { result: ReleasedCohort | FederatedCohort }) {
  const { t } = useI18n();
  if (!isFederated(result)) {
    return (
      <Section title={t('result')} id="cohort-result">
        <HubResult r={result} />
      </Section>
    );
  }
  return (
    <Section title={t('result')} id="cohort-result">
      <p class="big">
        {t('summed')}:{' '}
        <strong data-testid="cohort-summed">
          {result.summedPersons === null ? '—' : <Count value={result.summedPersons} />}
        </strong>
        {result.distinctPersons !== undefined && (
          <>
            {' · '}
            {t('distinctPersons')}: <Count value={result.distinctPersons} />
          </>
        )}
      </p>
      {result.failed.length > 0 && (
        <p class="bad" role="alert">
          {t('failedHubs', { list: result.failed.map((f) => `${f.hub} (${f.remoteCode ?? f.kind})`).join(', ') })}
        </p>
      )}
      {result.hubs.map((h) => (
        <HubResult key={h.hub} r={h} />
      ))}
    </Section>
  );
}
