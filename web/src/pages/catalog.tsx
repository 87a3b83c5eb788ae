import { useState } from 'preact/hooks';
import { Async, Bars, Count, DataTable, Section, useApi, usePolicy } from '../components.js';
import { useI18n } from '../i18n.js';

interface Catalog {
  tables: {
    view: string;
    table: string;
    resource: string;
    rows: number;
    refreshedAt: string | null;
    description: string;
    /** The years whose records pass the release gate, over the table's date column. */
    coverage: { date: string; from: string; to: string } | null;
  }[];
}

interface Profile {
  view: string;
  table: string;
  rows: number | null;
  columns: {
    name: string;
    type: string;
    description: string;
    kind: 'key' | 'categorical' | 'numeric' | 'date' | 'text';
    /** Released counts: null when under the disclosure threshold. */
    filled: number | null;
    distinct: number | null;
    values?: { value: string; rows: number }[];
    withheldValues?: number;
    quartiles?: { p25: number; median: number; p75: number };
  }[];
}

function Distribution({ c }: { c: Profile['columns'][number] }) {
  const { t, num } = useI18n();
  if (c.kind === 'key') return <span class="muted">{t('keyColumn')}</span>;
  if (c.kind === 'text') return <span class="muted">{t('textColumn')}</span>;
  if (c.quartiles) {
    const q = c.quartiles;
    return <span>{t('quartiles', { p25: num(q.p25, 2), median: num(q.median, 2), p75: num(q.p75, 2) })}</span>;
  }
  if (!c.values) return <span class="muted">—</span>;
  return (
    <>
      <Bars label={c.name} items={c.values.map((v) => ({ label: v.value, value: v.rows }))} />
      {(c.withheldValues ?? 0) > 0 && <span class="muted">{t('withheldValues', { n: c.withheldValues ?? 0 })}</span>}
    </>
  );
}

function TableProfile({ view }: { view: string }) {
  const { t } = useI18n();
  const profile = useApi<Profile>(`/console/catalog/${encodeURIComponent(view)}`);
  return (
    <Section title={t('showColumns', { table: `view_${view}` })} id={`profile-${view}`}>
      <Async loaded={profile}>
        {(p) => (
          <DataTable
            tableClass="profile"
            rows={p.columns}
            rowKey={(c) => c.name}
            columns={[
              { label: t('column'), rowHeader: true, cell: (c) => <code>{c.name}</code> },
              { label: t('type'), cell: (c) => c.type },
              { label: t('description'), cell: (c) => c.description },
              { label: t('filled'), numeric: true, cell: (c) => <Count value={c.filled} /> },
              { label: t('distinct'), numeric: true, cell: (c) => <Count value={c.distinct} /> },
              { label: t('distribution'), class: 'dist', cell: (c) => <Distribution c={c} /> },
            ]}
          />
        )}
      </Async>
    </Section>
  );
}

export function CatalogPage() {
  const { t, num, dateTime } = useI18n();
  const catalog = useApi<Catalog>('/console/catalog');
  const { threshold } = usePolicy();
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      <p>{t('catalogIntro', { n: threshold })}</p>
      <Async loaded={catalog}>
        {(c) => (
          <>
            <DataTable
              rows={c.tables}
              rowKey={(tb) => tb.view}
              columns={[
                {
                  label: t('table'),
                  rowHeader: true,
                  cell: (tb) => (
                    <button
                      type="button"
                      class="link"
                      aria-expanded={open === tb.view}
                      onClick={() => setOpen(open === tb.view ? null : tb.view)}
                    >
                      {tb.table}
                    </button>
                  ),
                },
                { label: t('description'), cell: (tb) => tb.description },
                { label: t('rows'), numeric: true, cell: (tb) => num(tb.rows) },
                {
                  label: t('coverageYears'),
                  cell: (tb) => (tb.coverage ? `${tb.coverage.from}–${tb.coverage.to}` : '—'),
                },
                { label: t('refreshed'), cell: (tb) => (tb.refreshedAt ? dateTime(tb.refreshedAt) : t('never')) },
              ]}
            />
            {open && <TableProfile key={open} view={open} />}
          </>
        )}
      </Async>
    </>
  );
}
