import type { HubModule, PrivacyServices } from '../context/index.js';
import { Enrolment } from './enrolment.js';
import { mydataMigrations } from './mydata-schema.js';

/** Citizens' records on the data hub: enrolment codes and the records linked to citizens' accounts. */
export const mydataModule: HubModule<Pick<PrivacyServices, 'pseudonymiser'>, { enrolment: Enrolment }> = {
  name: 'mydata',
  migrations: mydataMigrations,
  open: (hub) => ({
    enrolment: new Enrolment(hub.db, hub.pseudonymiser, hub.keys.secret, hub.audit, hub.clock),
  }),
};
