export type { AppGrant } from './app-grants.js';
export { APP_SCOPE, AppGrants, MAX_GRANT_DAYS } from './app-grants.js';
export type { CarePlan, PlanScreening, PlanTarget } from './care-plan.js';
export { ageOn, carePlan, myCarePlan } from './care-plan.js';
export { koreanName } from './code-names.js';
export type { ConsentReach } from './consent-reach.js';
export { CONSENT_APPLY_OPERATION, CONSENT_MATCH_OPERATION, ConsentReachFederation } from './consent-reach.js';
export type { LinkedRecord } from './enrolment.js';
export { ENROLMENT_CODE_DAYS, Enrolment } from './enrolment.js';
export type { Choice, PurposeChoice } from './my-consent.js';
export { MYDATA_SOURCE, MyConsent } from './my-consent.js';
export type { MyTrainedRisk, TrainedRiskChange, TrainedRiskFactor, Words } from './my-model-risks.js';
export { myModelRisks } from './my-model-risks.js';
export type { TimelineEntry } from './my-record.js';
export {
  everything,
  everythingBundle,
  MAX_RECORD_RESOURCES,
  TIMELINE_TYPES,
  timeline,
  timelineCsv,
  withPeerRecords,
} from './my-record.js';
export type { MyRisk, RiskFactor } from './my-risks.js';
export { myRisks } from './my-risks.js';
export { mydataModule } from './mydata-module.js';
export { mydataMigrations } from './mydata-schema.js';
export type { PeerLink, PeerPart, PeerResource } from './peer-records.js';
export { PEER_LINK_OPERATION, PEER_RECORDS_OPERATION, PEER_UNLINK_OPERATION, PeerRecords } from './peer-records.js';
