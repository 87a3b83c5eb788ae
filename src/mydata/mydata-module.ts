import type { HubModule, PrivacyServices } from '../context/index.js';
import type { ResourceStore } from '../store/index.js';
import { AppGrants } from './app-grants.js';
import { Enrolment } from './enrolment.js';
import { MyConsent } from './my-consent.js';
import { mydataMigrations } from './mydata-schema.js';

/** Citizens' records on the data hub: enrolment codes, the records linked to citizens, their consent choices. */
export const mydataModule: HubModule<
  Pick<PrivacyServices, 'pseudonymiser' | 'consent'> & { store: ResourceStore },
  { enrolment: Enrolment; myConsent: MyConsent; appGrants: AppGrants }
> = {
  name: 'mydata',
  migrations: mydataMigrations,
  open: (hub) => ({
    enrolment: new Enrolment(hub.db, hub.pseudonymiser, hub.keys.secret, hub.audit, hub.clock),
    myConsent: new MyConsent(hub.db, hub.store, hub.consent.policy, hub.derived, hub.audit, hub.clock),
    appGrants: new AppGrants(hub.db, hub.audit, hub.clock),
  }),
};
