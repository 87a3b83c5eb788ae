import type { PeerHealth } from '../../../src/server/api-schemas.js';
import { Async, Bars, DataTable, Section, useApi } from '../components.js';
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
        <DataTable
          rows={h.peers}
          rowKey={(p) => p.name}
          columns={[
            { label: t('peer'), cell: (p) => p.name },
            { label: 'URL', cell: (p) => p.url },
            {
              label: t('health'),
              cell: (p) => (p.ok ? t('peerUp', { ms: p.ms }) : t('peerDown', { code: p.error ?? '' })),
              cellClass: (p) => (p.ok ? 'ok' : 'bad'),
            },
          ]}
        />
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
              <DataTable
                rows={o.ingests}
                rowKey={(e) => e.seq}
                columns={[
                  { label: t('when'), cell: (e) => dateTime(e.at) },
                  { label: t('what'), cell: (e) => e.target ?? '—' },
                  { label: t('source'), cell: (e) => e.source ?? '—' },
                  { label: t('who'), cell: (e) => e.actor ?? '—' },
                  {
                    label: t('rejected'),
                    numeric: true,
                    cell: (e) => num(e.rejected),
                    cellClass: (e) => (e.rejected ? 'bad' : undefined),
                  },
                ]}
              />
            )}
          </Section>
        </div>
      )}
    </Async>
  );
}
