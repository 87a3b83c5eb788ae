import { createHash } from 'node:crypto';
import { auditMigrations, TokenRegistry, tokenMigrations } from '../access/index.js';
import type { LinkageKey } from '../privacy/index.js';
import {
  ConsentDecisions,
  ConsentPolicy,
  consentDecisionMigrations,
  Pseudonymiser,
  personLinkageMigrations,
  ReleaseGate,
  ReleaseLog,
  releaseLogMigrations,
} from '../privacy/index.js';
import { ResourceStore, resourceStoreMigrations } from '../store/index.js';
import { derivedStateMigrations } from './derived-data.js';
import type { HubContext, HubModule } from './hub-context.js';

/*
 * The registrations of the modules beneath the context (store, access, privacy): they cannot import the context's
 * types, and their services are built from the context alone, so their registrations live here. Modules above the
 * context export their own from their face.
 */

/** The context's own table: which store write each derived table reflects. */
export const contextModule: HubModule<object, object> = {
  name: 'hub',
  migrations: derivedStateMigrations,
  open: () => ({}),
};

export const storeModule: HubModule<object, { store: ResourceStore }> = {
  name: 'store',
  migrations: resourceStoreMigrations,
  open: (hub) => ({ store: new ResourceStore(hub.db) }),
};

/** The audit log is part of the context (every module audits); access owns its table and the tokens. */
export const accessModule: HubModule<object, { tokens: TokenRegistry }> = {
  name: 'access',
  migrations: [...auditMigrations, ...tokenMigrations],
  open: (hub) => ({ tokens: new TokenRegistry(hub.db, hub.clock) }),
};

/** What the privacy module adds to a hub. */
export interface PrivacyServices {
  /** Keyed pseudonyms of this hub: for sources that bypass the FHIR pipeline (an OMOP CDM's person ids). */
  pseudonymiser: Pseudonymiser;
  /** The key the linkage service issued to this hub, if any: ingest then derives a linkage token per person. */
  linkageKey: LinkageKey | undefined;
  /** What this hub has released, for differencing protection; refusals go to the audit log. */
  releases: ReleaseLog;
  /** The one way a statistic leaves the hub: to a peer, or to a principal without row-level rights. */
  gate: ReleaseGate;
  /**
   * Consent at every use (docs/consent.md): the hub's purposes and, per purpose as of a time, the SQL condition that
   * leaves out people whose consent refuses it; a derived table kept current by the after-commit pipeline.
   */
  consent: ConsentDecisions;
}

export const privacyModule: HubModule<object, PrivacyServices> = {
  name: 'privacy',
  migrations: [...releaseLogMigrations, ...personLinkageMigrations, ...consentDecisionMigrations],
  open(hub) {
    const { config, db, clock, audit, derived } = hub;
    const policy = new ConsentPolicy(config.privacy.consent ?? { purposes: {} });
    const consent = new ConsentDecisions(db, policy, clock, () => derived.assertCurrent());
    derived.register({
      name: 'consent',
      fingerprint: createHash('sha256').update(policy.fingerprint()).digest('hex').slice(0, 16),
      run: async () => ((await consent.refresh()) ? 1 : 0),
    });
    return {
      pseudonymiser: new Pseudonymiser(hub.keys.secret),
      linkageKey: hub.keys.linkageKey,
      releases: new ReleaseLog(db, clock, config.privacy.disclosure, (e) => audit.append(e)),
      gate: new ReleaseGate(config.privacy.disclosure),
      consent,
    };
  },
};

/** A hub as the modules above the context see it: the context and the services of the modules beneath it. */
export interface HubServices extends HubContext, PrivacyServices {
  store: ResourceStore;
  tokens: TokenRegistry;
}
