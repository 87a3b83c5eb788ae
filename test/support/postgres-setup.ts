import type { TestProject } from 'vitest/node';
import { startPostgres, type ThrowawayPostgres } from './postgres-server.js';
import { makeTemplates, templatesWanted } from './template-databases.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string | undefined;
  }
}

let cluster: ThrowawayPostgres | undefined;

/**
 * Vitest global setup: one throwaway PostgreSQL cluster for the run, with the templates test databases are copied
 * from (`template-databases.ts`); each test hub gets its own database in it.
 */
export async function setup(project: TestProject): Promise<void> {
  cluster = await startPostgres();
  try {
    project.provide(
      'postgresTemplates',
      cluster && templatesWanted() ? await makeTemplates(cluster.url, []) : undefined,
    );
  } catch (e) {
    cluster?.stop();
    throw e;
  }
  project.provide('postgresUrl', cluster?.url);
}

export async function teardown(): Promise<void> {
  cluster?.stop();
  cluster = undefined;
}
