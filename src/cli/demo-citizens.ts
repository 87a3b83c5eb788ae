import type { Principal } from '../access/index.js';
import type { Hub } from '../hub/index.js';
import { demoRegion } from './demo-population.js';
import type { Io } from './io.js';

/** How many synthetic residents of the data hub get a citizen sign-in and an enrolment code at each start. */
export const DEMO_CITIZENS = 3;

/** The demo acts as the residents' source hospital when it asks for their codes. */
const DEMO_SOURCE_OPERATOR: Principal = { name: 'demo-source', role: 'admin' };

/**
 * For a few synthetic residents of the demo's data hub: a citizen sign-in (a fresh token each start: a token is
 * shown only once) and a one-time enrolment code from their source, as a hospital would hand them out. Printed
 * so a person trying the demo can enrol in the console and read "their" record, and one code of a second hub's source
 * to link a record held there. Returns the printed lines' data for the data hub's residents.
 */
export async function issueDemoCitizens(hubs: readonly Hub[], io: Io): Promise<{ token: string; code: string }[]> {
  const hub = hubs.find((h) => h.config.role === 'data');
  if (hub === undefined) return [];
  const source = `synth-${demoRegion(hub.config.name)}`;
  const out: { token: string; code: string }[] = [];
  io.out.write(`citizens of ${hub.config.name}: sign in with the token, then enrol with the code (My record):\n`);
  for (let i = 0; i < DEMO_CITIZENS; i++) {
    const name = `resident-${i + 1}`;
    await hub.tokens.revoke(name);
    const token = await hub.tokens.create(name, 'citizen');
    // The synthetic population's home residents are p0, p1, … in their source (synth/fhir-writer.ts).
    const { code } = await hub.enrolment.issue(DEMO_SOURCE_OPERATOR, source, `p${i}`);
    io.out.write(`  ${name}  token ${token}  enrolment code ${code}\n`);
    out.push({ token, code });
  }
  // A record at a second hub, vouched for by that hub's own source: entered on My record with that hub's name, it
  // links the resident of that hub to resident-1 (a demo's populations are separate people; a real code would be
  // the same person's).
  const peer = hubs.find((h) => h !== hub);
  if (peer !== undefined) {
    const { code } = await peer.enrolment.issue(DEMO_SOURCE_OPERATOR, `synth-${demoRegion(peer.config.name)}`, 'p0');
    io.out.write(
      `  resident-1 at ${peer.config.name}: enrolment code ${code} (My record: enter it with hub "${peer.config.name}")\n`,
    );
  }
  return out;
}
