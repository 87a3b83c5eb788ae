import type { Migration } from './migrations.js';

/**
 * The resource store's tables. `resource_version` keeps every version (content without meta.versionId and
 * meta.lastUpdated, which come from the columns); `resource_head` holds the current version of each resource
 * and is the uniqueness guard. The search_* tables index current versions only; search dates are epoch
 * milliseconds (BIGINT): portable, and cheap to compare and to append.
 */
export const resourceStoreMigrations: readonly Migration[] = [
  {
    module: 'store',
    version: 1,
    name: 'resource versions, heads and search indexes',
    statements: [
      `CREATE TABLE resource_version (
        type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        last_updated TIMESTAMPTZ NOT NULL,
        patient_key VARCHAR,
        hash VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        content VARCHAR NOT NULL
      )`,
      `CREATE TABLE resource_head (
        type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        hash VARCHAR NOT NULL,
        last_updated TIMESTAMPTZ NOT NULL,
        patient_key VARCHAR,
        PRIMARY KEY (type, id)
      )`,
      `CREATE TABLE search_token (
        type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        param VARCHAR NOT NULL,
        system VARCHAR,
        code VARCHAR NOT NULL
      )`,
      `CREATE TABLE search_date (
        type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        param VARCHAR NOT NULL,
        low BIGINT NOT NULL,
        high BIGINT NOT NULL
      )`,
      `CREATE TABLE search_reference (
        type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        param VARCHAR NOT NULL,
        target VARCHAR NOT NULL
      )`,
    ],
  },
];
