import { useState } from 'preact/hooks';
import { Async, Bars, Section, useApi } from '../components.js';
import { useI18n } from '../i18n.js';

interface Catalog {
  tables: {
    view: string;
    table: string;
    resource: string;
    rows: number;
    refreshedAt: string | null;
    description: string;
  }[];
}

interface Profile {
  view: string;
  table: string;
  rows: number;
  columns: {
    name: string;
    type: string;
    description: string;
    kind: 'key' | 'categorical' | 'numeric' | 'date' | 'text';
    filled: number;
    distinct: number;
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
  const { t, num } = useI18n();
  const profile = useApi<Profile>(`/console/catalog/${encodeURIComponent(view)}`);
  return (
    <Section title={t('showColumns', { table: `view_${view}` })} id={`profile-${view}`}>
      <Async loaded={profile}>
        {(p) => (
          <div class="scroll">
            <table class="profile">
              <thead>
                <tr>
                  <th scope="col">{t('column')}</th>
                  <th scope="col">{t('type')}</th>
                  <th scope="col">{t('description')}</th>
                  <th scope="col" class="num">
                    {t('filled')}
                  </th>
                  <th scope="col" class="num">
                    {t('distinct')}
                  </th>
                  <th scope="col">{t('distribution')}</th>
                </tr>
              </thead>
              <tbody>
                {p.columns.map((c) => (
                  <tr key={c.name}>
                    <th scope="row">
                      <code>{c.name}</code>
                    </th>
                    <td>{c.type}</td>
                    <td>{c.description}</td>
                    <td class="num">{num(c.filled)}</td>
                    <td class="num">{num(c.distinct)}</td>
                    <td class="dist">
                      <Distribution c={c} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Async>
    </Section>
  );
}

export function CatalogPage() {
  const { t, num, dateTime } = useI18n();
  const catalog = useApi<Catalog>('/console/catalog');
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      <p>{t('catalogIntro', { n: 10 })}</p>
      <Async loaded={catalog}>
        {(c) => (
          <>
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t('table')}</th>
                    <th scope="col">{t('description')}</th>
                    <th scope="col" class="num">
                      {t('rows')}
                    </th>
                    <th scope="col">{t('refreshed')}</th>
                  </tr>
                </thead>
                <tbody>
                  {c.tables.map((tb) => (
                    <tr key={tb.view}>
                      <th scope="row">
                        <button
                          type="button"
                          class="link"
                          aria-expanded={open === tb.view}
                          onClick={() => setOpen(open === tb.view ? null : tb.view)}
                        >
                          {tb.table}
                        </button>
                      </th>
                      <td>{tb.description}</td>
                      <td class="num">{num(tb.rows)}</td>
                      <td>{tb.refreshedAt ? dateTime(tb.refreshedAt) : t('never')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {open && <TableProfile key={open} view={open} />}
          </>
        )}
      </Async>
    </>
  );
}
