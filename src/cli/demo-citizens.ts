import type { Principal } from '../access/index.js';
import type { Hub } from '../hub/index.js';
import { travelDestination, visitorPatientId } from '../synth/index.js';
import { DEMO_PEOPLE, DEMO_SEED, demoRegion } from './demo-population.js';
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
export async function issueDemoCitizens(
  hubs: readonly Hub[],
  io: Io,
  people = DEMO_PEOPLE,
): Promise<{ token: string; code: string }[]> {
  const hub = hubs.find((h) => h.config.role === 'data');
  if (hub === undefined) return [];
  const home = demoRegion(hub.config.name);
  const source = `synth-${home}`;
  // resident-1 is the first resident also treated at another demo hub (the same RRN there, so the peer's linkage
  // check finds the same person), when the population has one; the others follow in index order.
  const travel = firstTraveller(hubs, hub, people);
  const indices = [travel?.index ?? 0];
  for (let i = 0; indices.length < DEMO_CITIZENS; i++) if (i !== indices[0]) indices.push(i);
  const out: { token: string; code: string }[] = [];
  io.out.write(`citizens of ${hub.config.name}: sign in with the token, then enrol with the code (My record):\n`);
  for (const [n, i] of indices.entries()) {
    const name = `resident-${n + 1}`;
    await hub.tokens.revoke(name);
    const token = await hub.tokens.create(name, 'citizen');
    // The synthetic population's home residents are p0, p1, … in their source (synth/fhir-writer.ts).
    const { code } = await hub.enrolment.issue(DEMO_SOURCE_OPERATOR, source, `p${i}`);
    io.out.write(`  ${name}  token ${token}  enrolment code ${code}\n`);
    out.push({ token, code });
  }
  // resident-1's record at the second hub, vouched for by that hub's own source: entered on My record with that
  // hub's name, it links there after the linkage tokens show the same person.
  if (travel !== undefined) {
    const { peer } = travel;
    const { code } = await peer.enrolment.issue(
      DEMO_SOURCE_OPERATOR,
      `synth-${demoRegion(peer.config.name)}`,
      visitorPatientId(home, travel.index),
    );
    io.out.write(
      `  resident-1 at ${peer.config.name}: enrolment code ${code} (My record: enter it with hub "${peer.config.name}")\n`,
    );
  }
  return out;
}

/** The first resident of `hub`'s demo population treated at another demo hub, and that hub. */
function firstTraveller(hubs: readonly Hub[], hub: Hub, people: number): { index: number; peer: Hub } | undefined {
  const home = demoRegion(hub.config.name);
  for (let i = 0; i < people; i++) {
    const to = travelDestination(DEMO_SEED, home, i);
    const peer = hubs.find((h) => h !== hub && demoRegion(h.config.name) === to);
    if (peer !== undefined) return { index: i, peer };
  }
  return undefined;
}
