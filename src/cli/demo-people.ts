import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Role } from '../access/index.js';
import type { HubRole } from '../core/index.js';
import { isHealthmeshError } from '../core/index.js';
import type { Hub } from '../hub/index.js';
import type { Io } from './io.js';

/** The people the demo signs in: each on a hub of the role where their work happens. */
const PEOPLE: readonly { hub: HubRole; handle: string; signIn: string; role: Role }[] = [
  { hub: 'research', handle: 'researcher-kim', signIn: 'kim.researcher', role: 'researcher' },
  { hub: 'research', handle: 'developer-park', signIn: 'park.developer', role: 'developer' },
  { hub: 'demonstration', handle: 'developer-park', signIn: 'park.developer', role: 'developer' },
  { hub: 'data', handle: 'steward-lee', signIn: 'lee.steward', role: 'steward' },
  { hub: 'research', handle: 'steward-choi', signIn: 'choi.steward', role: 'steward' },
  { hub: 'demonstration', handle: 'steward-jung', signIn: 'jung.steward', role: 'steward' },
];

/**
 * The sign-in name of the data steward of a hub of `role`: who decides on projects there (the demo's review of the
 * validation project goes through them, not the hub's admin).
 */
export function demoStewardOf(role: HubRole): string | undefined {
  return PEOPLE.find((p) => p.hub === role && p.role === 'steward')?.signIn;
}

/** Two access requests filed at the research hub, naming the data hub: the demo approves the first. */
const APPLICATIONS = [
  {
    title: 'Type 2 diabetes outcomes in outpatients',
    tables: [{ name: 'condition', columns: ['patient_key', 'code_code', 'onset_start'] }],
  },
  {
    title: 'Blood pressure control in older adults',
    tables: [{ name: 'observation', columns: ['patient_key', 'code_code', 'value_quantity', 'effective_start'] }],
  },
];

/**
 * Sign-in details for a researcher and a startup developer (research hub, and the developer at the demonstration
 * hub too) and a data steward at each hub, with fresh passwords each start (a password is shown only once), and, on a
 * first start, one project approved by the data hub's steward and one waiting for review. The projects go through
 * the served API as the people would file and review them.
 */
export async function issueDemoPeople(
  hubs: readonly Hub[],
  apps: readonly FastifyInstance[],
  io: Io,
): Promise<ReadonlyMap<string, string>> {
  const byRole = (role: HubRole) => hubs.findIndex((h) => h.config.role === role);
  const passwords = new Map<string, string>();
  io.out.write('people (sign in to the console with name and password):\n');
  for (const p of PEOPLE) {
    const i = byRole(p.hub);
    if (i < 0) continue;
    const hub = hubs[i]!;
    const password = passwords.get(p.signIn) ?? randomBytes(12).toString('base64url');
    passwords.set(p.signIn, password);
    try {
      await hub.accounts.update('demo', p.handle, { password, status: 'active', unlock: true });
    } catch (e) {
      if (!(isHealthmeshError(e) && e.code === 'ACCOUNT_UNKNOWN')) throw e;
      await hub.accounts.create('demo', { handle: p.handle, role: p.role, signInName: p.signIn, password });
    }
    io.out.write(
      `  ${p.role.padEnd(10)} ${hub.config.name.padEnd(9)} ${apps[i]!.listeningOrigin}  ${p.signIn} / ${password}\n`,
    );
  }
  const research = byRole('research');
  const data = byRole('data');
  if (research < 0 || data < 0) return passwords;
  const researcher = await signIn(apps[research]!, 'kim.researcher', passwords.get('kim.researcher')!);
  const filed = await call<{ id: string }[]>(apps[research]!, researcher, 'GET', '/projects');
  if (filed.length > 0) return passwords;
  const endDate = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
  const ids: string[] = [];
  for (const a of APPLICATIONS) {
    const project = await call<{ id: string }>(apps[research]!, researcher, 'POST', '/projects', {
      ...a,
      purpose: 'research',
      endDate,
      members: ['developer-park'],
      ethicsApproval: 'IRB-DEMO-2026-001',
      dataUseAgreement: true,
      hubs: [hubs[data]!.config.name],
    });
    ids.push(project.id);
  }
  const steward = await signIn(apps[data]!, 'lee.steward', passwords.get('lee.steward')!);
  await call(apps[data]!, steward, 'POST', `/projects/${ids[0]}/review`, {
    decision: 'approve',
    comment: 'Approved for the demo: outputs are checked before release.',
  });
  io.out.write(
    `projects at ${hubs[research]!.config.name}: "${APPLICATIONS[0]!.title}" approved by ${hubs[data]!.config.name}, "${APPLICATIONS[1]!.title}" waiting for review\n`,
  );
  return passwords;
}

/** A session token for `name` at the hub `app` serves, signed in through the API as the person would. */
export async function signIn(app: FastifyInstance, name: string, password: string): Promise<string> {
  return (await call<{ accessToken: string }>(app, undefined, 'POST', '/auth/login', { name, password })).accessToken;
}

/** One request to the hub `app` serves, as a client would send it; a refusal throws with the hub's answer. */
export async function call<T>(
  app: FastifyInstance,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${app.listeningOrigin}${path}`, {
    method,
    headers: {
      ...(token !== undefined && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`demo: ${method} ${path} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as T;
}
