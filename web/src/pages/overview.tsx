import { Async, Bars, Section, useApi } from '../components.js';
import { useI18n } from '../i18n.js';
import type { MessageKey } from '../messages.js';

interface Overview {
  hub: { name: string; role: 'data' | 'research' | 'demonstration' };
  you: { name: string; role: string } | null;
  counts: { type: string; resources: number }[];
  audit: { ok: boolean; entries: number; fault?: { seq: number; reason: string } };
  ingests: {
    seq: number;
    at: string;
    /** Null for roles without row-level access: who loaded which file is for the hub's stewards. */
    actor: string | null;
    target: string | null;
    outcome: string;
    source: string | null;
    rejected: number | null;
  }[];
  peers: { name: string; url: string }[];
  federation: boolean;
}

interface PeerHealth {
  peers: { name: string; url: string; ok: boolean; ms: number; error?: string }[];
}

const ROLE_TEXT: Record<Overview['hub']['role'], MessageKey> = {
  data: 'roleData',
  research: 'roleResearch',
  demonstration: 'roleDemonstration',
};

function Peers({ overview }: { overview: Overview }) {
  const { t } = useI18n();
  const health = useApi<PeerHealth>(overview.peers.length > 0 ? '/console/peers' : null);
  if (!overview.federation) return <p>{t('noFederation')}</p>;
  if (overview.peers.length === 0) return <p>{t('noPeers')}</p>;
  return (
    <Async loaded={health}>
      {(h) => (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('peer')}</th>
              <th scope="col">URL</th>
              <th scope="col">{t('health')}</th>
            </tr>
          </thead>
          <tbody>
            {h.peers.map((p) => (
              <tr key={p.name}>
                <td>{p.name}</td>
                <td>{p.url}</td>
                <td class={p.ok ? 'ok' : 'bad'}>
                  {p.ok ? t('peerUp', { ms: p.ms }) : t('peerDown', { code: p.error ?? '' })}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Async>
  );
}

export function OverviewPage() {
  const { t, num, dateTime } = useI18n();
  const overview = useApi<Overview>('/console/overview');
  return (
    <Async loaded={overview}>
      {(o) => (
        <div class="grid">
          <Section title={t('hubIdentity')} id="hub">
            <dl class="facts">
              <dt>{t('hubName')}</dt>
              <dd data-testid="hub-name">{o.hub.name}</dd>
              <dt>{t('hubRole')}</dt>
              <dd>{t(ROLE_TEXT[o.hub.role])}</dd>
              <dt>{t('signedInAs')}</dt>
              <dd>{o.you ? `${o.you.name} (${o.you.role})` : '—'}</dd>
            </dl>
          </Section>
          <Section title={t('auditStatus')} id="audit">
            <p class={o.audit.ok ? 'ok' : 'bad'} data-testid="audit-status">
              {o.audit.ok
                ? t('auditOk', { n: num(o.audit.entries) })
                : t('auditBroken', { seq: o.audit.fault?.seq ?? '?', reason: o.audit.fault?.reason ?? '' })}
            </p>
          </Section>
          <Section title={t('dataCounts')} id="counts">
            {o.counts.length === 0 ? (
              <p>{t('noData')}</p>
            ) : (
              <Bars label={t('dataCounts')} items={o.counts.map((c) => ({ label: c.type, value: c.resources }))} />
            )}
          </Section>
          <Section title={t('peers')} id="peers">
            <Peers overview={o} />
          </Section>
          <Section title={t('ingestHistory')} id="ingests" wide>
            {o.ingests.length === 0 ? (
              <p>{t('none')}</p>
            ) : (
              <div class="scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t('when')}</th>
                      <th scope="col">{t('what')}</th>
                      <th scope="col">{t('source')}</th>
                      <th scope="col">{t('who')}</th>
                      <th scope="col" class="num">
                        {t('rejected')}
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {o.ingests.map((e) => (
                      <tr key={e.seq}>
                        <td>{dateTime(e.at)}</td>
                        <td>{e.target ?? '—'}</td>
                        <td>{e.source ?? '—'}</td>
                        <td>{e.actor ?? '—'}</td>
                        <td class={`num ${e.rejected ? 'bad' : ''}`}>{num(e.rejected)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Section>
        </div>
      )}
    </Async>
  );
}
