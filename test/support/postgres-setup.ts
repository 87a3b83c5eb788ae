import type { TestProject } from 'vitest/node';
import { startPostgres, type ThrowawayPostgres } from './postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string | undefined;
  }
}

let cluster: ThrowawayPostgres | undefined;

/** Vitest global setup: one throwaway PostgreSQL cluster for the run; each test hub gets its own database in it. */
export async function setup(project: TestProject): Promise<void> {
  cluster = await startPostgres();
  project.provide('postgresUrl', cluster?.url);
}

export async function teardown(): Promise<void> {
  cluster?.stop();
  cluster = undefined;
}
