import type { Migration } from '../store/index.js';

export const mydataMigrations: readonly Migration[] = [
  {
    module: 'mydata',
    version: 1,
    name: "citizens' enrolment codes and the records linked to their accounts",
    statements: [
      // Only a keyed hash of each code and the pseudonymous patient key it opens: neither the code nor the
      // source's patient id is kept, so the table cannot be read back to who anyone is.
      `CREATE TABLE enrolment_code (
        code_hash VARCHAR NOT NULL PRIMARY KEY,
        patient_key VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        issued_by VARCHAR NOT NULL,
        issued_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL,
        used_at TIMESTAMPTZ
      )`,
      // One row per record a citizen linked: the account's handle (the principal name) and the patient key.
      `CREATE TABLE citizen_record (
        citizen VARCHAR NOT NULL,
        patient_key VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        linked_at TIMESTAMPTZ NOT NULL
      )`,
    ],
    indexes: [['citizen_record', ['citizen']]],
    keys: [['citizen_record', ['citizen', 'patient_key']]],
  },
  {
    module: 'mydata',
    version: 2,
    name: 'failed enrolment attempts per citizen, for the lockout',
    statements: [
      `CREATE TABLE enrolment_failure (
        citizen VARCHAR NOT NULL,
        failed_at TIMESTAMPTZ NOT NULL
      )`,
    ],
    indexes: [['enrolment_failure', ['citizen', 'failed_at']]],
  },
  {
    module: 'mydata',
    version: 3,
    name: 'apps a citizen granted read access to their records',
    statements: [
      // Only the SHA-256 of each grant's token (256 random bits, so no slow hash is needed), as for bearer tokens.
      `CREATE TABLE app_grant (
        id VARCHAR NOT NULL PRIMARY KEY,
        token_hash VARCHAR NOT NULL,
        citizen VARCHAR NOT NULL,
        app VARCHAR NOT NULL,
        scope VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL,
        revoked_at TIMESTAMPTZ
      )`,
    ],
    indexes: [
      ['app_grant', ['token_hash']],
      ['app_grant', ['citizen']],
    ],
  },
  {
    module: 'mydata',
    version: 4,
    name: "records of a citizen at peer hubs, linked with a code of the peer's source",
    // The peer keeps the patient key; here only which peer and source, so My record knows whom to ask.
    statements: [
      `CREATE TABLE citizen_peer_record (
        citizen VARCHAR NOT NULL,
        hub VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        linked_at TIMESTAMPTZ NOT NULL
      )`,
    ],
    indexes: [['citizen_peer_record', ['citizen']]],
  },
];
