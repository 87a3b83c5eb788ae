import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Federation, OperationRegistry } from '../../src/federation/index.js';
import { openFederation } from '../../src/federation/index.js';
import type { Hub } from '../../src/hub/index.js';
import { buildServer } from '../../src/server/index.js';
import { serveFederated } from './peer-servers.js';
import { ingestOptions, tempHub } from './temp-hub.js';

export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
export const LOINC = 'http://loinc.org';
export const ATC = 'http://www.whocc.no/atc';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

type Resource = Record<string, unknown> & { resourceType: string; id: string };

/**
 * A small hand-made population whose truth the test knows: each method adds FHIR R4 resources, `ingestInto`
 * writes them as NDJSON and ingests them into a hub as a data steward would.
 */
export class HandMadePopulation {
  private readonly resources: Resource[] = [];
  private seq = 0;

  private next(prefix: string): string {
    return `${prefix}-${++this.seq}`;
  }

  patient(id: string, gender: 'female' | 'male', birthDate: string): this {
    this.resources.push({ resourceType: 'Patient', id, gender, birthDate });
    return this;
  }

  /** An ambulatory visit; a person's observation period runs from their first to their last record. */
  encounter(patient: string, date: string, id = this.next('enc')): this {
    this.resources.push({
      resourceType: 'Encounter',
      id,
      status: 'finished',
      class: { system: ACT_CODE, code: 'AMB' },
      subject: { reference: `Patient/${patient}` },
      period: { start: `${date}T09:00:00Z`, end: `${date}T09:20:00Z` },
    });
    return this;
  }

  condition(patient: string, code: string, date: string, encounter?: string): this {
    this.resources.push({
      resourceType: 'Condition',
      id: this.next('cond'),
      subject: { reference: `Patient/${patient}` },
      ...(encounter !== undefined && { encounter: { reference: `Encounter/${encounter}` } }),
      code: { coding: [{ system: ICD10, code }] },
      onsetDateTime: date,
    });
    return this;
  }

  /** A measurement with a value; `device` makes it a device-recorded (lifelog) value. */
  measurement(patient: string, code: string, date: string, value: number, unit: string, device?: string): this {
    this.resources.push({
      resourceType: 'Observation',
      id: this.next('obs'),
      status: 'final',
      code: { coding: [{ system: LOINC, code }] },
      subject: { reference: `Patient/${patient}` },
      effectiveDateTime: `${date}T08:00:00Z`,
      valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
      ...(device !== undefined && { device: { reference: `Device/${device}` } }),
    });
    return this;
  }

  device(id: string): this {
    this.resources.push({ resourceType: 'Device', id, status: 'active' });
    return this;
  }

  medication(patient: string, system: string, code: string, date: string): this {
    this.resources.push({
      resourceType: 'MedicationRequest',
      id: this.next('med'),
      status: 'active',
      intent: 'order',
      medicationCodeableConcept: { coding: [{ system, code }] },
      subject: { reference: `Patient/${patient}` },
      authoredOn: date,
    });
    return this;
  }

  async ingestInto(hub: Hub): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'hm-attack-data-'));
    try {
      const byType = new Map<string, Resource[]>();
      for (const r of this.resources) byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r]);
      const files: string[] = [];
      for (const [type, list] of byType) {
        const file = join(dir, `${type}.ndjson`);
        writeFileSync(file, `${list.map((r) => JSON.stringify(r)).join('\n')}\n`);
        files.push(file);
      }
      const summary = await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: 'hand-made' }));
      if (summary.totals.rejected !== 0) throw new Error(`hand-made population: ${summary.totals.rejected} rejected`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** What an outside researcher holds: a researcher token on the hub's HTTP API. */
export interface ResearcherSession {
  app: FastifyInstance;
  get(url: string): Promise<LightMyRequestResponse>;
  post(url: string, body: unknown): Promise<LightMyRequestResponse>;
}

export async function researcherSession(hub: Hub, app?: FastifyInstance): Promise<ResearcherSession> {
  const token = await hub.tokens.create('outside-researcher', 'researcher');
  const server = app ?? (await buildServer(hub));
  const headers = { authorization: `Bearer ${token}` };
  return {
    app: server,
    get: (url) => server.inject({ method: 'GET', url, headers }),
    post: (url, body) =>
      server.inject({
        method: 'POST',
        url,
        headers: { ...headers, 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      }),
  };
}

/** A fresh hub with a hand-made population ingested. */
export async function hubWith(name: string, population: HandMadePopulation) {
  const t = await tempHub(name);
  await population.ingestInto(t.hub);
  return t;
}

/**
 * The target hub serving `operations` on loopback, and an attacking peer that the target trusts (it is in the
 * target's peers file): the attacker signs its requests with its own key, as any federation member can.
 */
export async function peerAttacker(
  target: Hub,
  operations: OperationRegistry,
): Promise<{
  call: (operation: string, body: unknown) => Promise<unknown>;
  close: () => Promise<void>;
}> {
  const served = await serveFederated(target, operations);
  const attacker = await tempHub('attacker');
  const own: Federation = await openFederation(attacker.hub);
  served.federation.peers.add({ name: 'attacker', url: 'http://127.0.0.1:9', publicKey: own.identity.publicJwk });
  own.peers.add({
    name: target.config.name,
    url: served.app.listeningOrigin,
    publicKey: served.federation.identity.publicJwk,
  });
  return {
    call: (operation, body) => own.client.call(target.config.name, operation, body, { timeoutMs: 120_000 }),
    close: async () => {
      await served.app.close().catch(() => undefined);
      await attacker.cleanup();
    },
  };
}

/** Every whole number written in a text (a refusal's message, a JSON body): what an attacker can parse out. */
export function numbersIn(text: string): number[] {
  return [...text.matchAll(/(?<![\d.])\d+(?![\d.])/g)].map((m) => Number(m[0]));
}

/** Whether an estimate of a value given to one decimal recovers it (the attacker rounds to the data's precision). */
export function recovers(estimate: number | undefined, truth: number): boolean {
  return estimate !== undefined && Number.isFinite(estimate) && Math.abs(estimate - truth) < 0.05;
}
