import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';

describe('healthmesh start (the demo)', () => {
  it('creates three peered hubs with their own populations, serves them, answers a federated cohort, stops on SIGINT', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'hm-start-')), 'demo');
    let out = '';
    const io = { out: { isTTY: false, write: (s: string) => (out += s) }, err: { write: (s: string) => (out += s) } };
    const running = main(['start', '--dir', dir, '--port', '0', '--people', '150'], io);
    const deadline = Date.now() + 240_000;
    while (!/peered gwangju, gyeonggi, busan/.test(out)) {
      if (Date.now() > deadline) throw new Error(`start did not serve in time:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const bases = new Map(
      [...out.matchAll(/hub "(\w+)" \(\w+\) serving FHIR R4 at (\S+)\/fhir/g)].map((m) => [m[1]!, m[2]!]),
    );
    expect([...bases.keys()]).toEqual(['gwangju', 'gyeonggi', 'busan']);
    expect(out.match(/total\s+\d+\s+\d+\s+0\n/g)?.length).toBe(3); // three populations, zero rejects
    for (const [name, base] of bases) {
      const token = readFileSync(join(dir, name, 'secrets', 'admin.token'), 'utf8').trim();
      const res = await fetch(`${base}/fhir/Patient?_count=1`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      // 150 residents, and the few residents of other regions treated here
      expect(((await res.json()) as { total: number }).total).toBeGreaterThanOrEqual(150);
      // The analysis the demo leaves: a trained risk model and a stored federated forecast on every hub.
      const auth = { headers: { authorization: `Bearer ${token}` } };
      const models = (await (await fetch(`${base}/models`, auth)).json()) as { models: { id: string }[] };
      expect(
        models.models.map((m) => m.id),
        out,
      ).toContain('htn-5y');
      const forecasts = (await (await fetch(`${base}/surveillance/forecasts`, auth)).json()) as {
        forecasts: unknown[];
      };
      expect(forecasts.forecasts.length, out).toBeGreaterThan(0);
    }
    const token = readFileSync(join(dir, 'gwangju', 'secrets', 'admin.token'), 'utf8').trim();
    const res = await fetch(`${bases.get('gwangju')}/cohort/$run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        hubs: ['gwangju', 'gyeonggi', 'busan'],
        definition: {
          name: 'outpatients',
          conceptSets: {
            amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] },
          },
          entry: { domain: 'encounter', conceptSet: 'amb' },
        },
      }),
    });
    expect(res.status).toBe(200);
    const fed = (await res.json()) as { complete: boolean; summedPersons: number; distinctPersons: number };
    expect(fed.complete).toBe(true);
    expect(fed.distinctPersons).toBeGreaterThan(300);
    expect(fed.distinctPersons).toBeLessThanOrEqual(fed.summedPersons);
    // The same from the command line, coordinated by the serving gwangju hub.
    const defFile = join(dir, '..', 'outpatients.json');
    writeFileSync(
      defFile,
      JSON.stringify({
        name: 'outpatients',
        conceptSets: {
          amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] },
        },
        entry: { domain: 'encounter', conceptSet: 'amb' },
      }),
    );
    let cli = '';
    const cliIo = {
      out: { isTTY: false, write: (s: string) => (cli += s) },
      err: { write: (s: string) => (cli += s) },
    };
    const args = [
      'cohort',
      'run',
      defFile,
      '--dir',
      join(dir, 'gwangju'),
      '--hubs',
      'gwangju,gyeonggi,busan',
      '--url',
      bases.get('gwangju')!,
    ];
    expect(await main(args, cliIo), cli).toBe(0);
    expect(cli).toMatch(/distinct\s+\d+ people, each counted once/);
    expect(cli).toMatch(/busan\s+\d+ persons/);
    // The demo prints its people and citizens once they are made (after the hubs serve): wait for the last line.
    while (!/resident-3 {2}token/.test(out)) {
      if (Date.now() > deadline) throw new Error(`start printed no citizens in time:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // A printed resident enrols with their code and reads their own record on the data hub.
    const resident = /resident-1 {2}token (\S+) {2}enrolment code (\S+)/.exec(out);
    expect(resident, out).not.toBeNull();
    const citizen = { authorization: `Bearer ${resident![1]}`, 'content-type': 'application/json' };
    const enrol = await fetch(`${bases.get('gwangju')}/me/enrol`, {
      method: 'POST',
      headers: citizen,
      body: JSON.stringify({ code: resident![2] }),
    });
    expect(enrol.status).toBe(201);
    const mine = await fetch(`${bases.get('gwangju')}/me/$everything`, { headers: citizen });
    const record = (await mine.json()) as { entry: { resource: { resourceType: string } }[] };
    expect(record.entry.filter((e) => e.resource.resourceType === 'Patient')).toHaveLength(1);
    expect(record.entry.length).toBeGreaterThan(1);
    // The code of a second hub's source links the record held there, read on My record beside gwangju's own.
    while (!/resident-1 at \w+: enrolment code/.test(out)) {
      if (Date.now() > deadline) throw new Error(`start printed no peer code in time:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const peerCode = /resident-1 at (\w+): enrolment code (\S+) \(My record: enter it with hub "(\w+)"\)/.exec(out);
    expect(peerCode?.[1]).toBe(peerCode?.[3]);
    const linked = await fetch(`${bases.get('gwangju')}/me/enrol`, {
      method: 'POST',
      headers: citizen,
      body: JSON.stringify({ code: peerCode![2], hub: peerCode![1] }),
    });
    expect(linked.status, await linked.clone().text()).toBe(201);
    const both = (await (await fetch(`${bases.get('gwangju')}/me/timeline`, { headers: citizen })).json()) as {
      entries: { hub?: string }[];
      peers: { hub: string; reached: boolean }[];
    };
    expect(both.peers).toEqual([{ hub: peerCode![1], reached: true }]);
    expect(both.entries.some((e) => e.hub === peerCode![1])).toBe(true);
    // The demo's people: the researcher signs in at the research hub and finds one project approved, one waiting.
    const person = /researcher +gyeonggi +(\S+) +kim\.researcher \/ (\S+)/.exec(out);
    expect(person, out).not.toBeNull();
    const login = await fetch(`${person![1]}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'kim.researcher', password: person![2] }),
    });
    expect(login.status).toBe(200);
    const session = (await login.json()) as { accessToken: string };
    const projects = await fetch(`${person![1]}/projects`, {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    const listed = (await projects.json()) as { id: string }[];
    expect(listed).toHaveLength(2);
    const views = await Promise.all(
      listed.map(async (p) => {
        const r = await fetch(`${person![1]}/projects/${p.id}`, {
          headers: { authorization: `Bearer ${session.accessToken}` },
        });
        return (await r.json()) as { hubs: { hub: string; decision: string }[] };
      }),
    );
    expect(views.map((v) => v.hubs.find((h) => h.hub === 'gwangju')?.decision).sort()).toEqual(['approved', 'pending']);
    // The sample third party's model was validated across the three hubs from busan, the demonstration hub (the
    // demo's last step), in a project filed there: its signed pooled report is there.
    while (!/validation at busan[ :]/.test(out)) {
      if (Date.now() > deadline) throw new Error(`start validated no model in time:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const busan = {
      authorization: `Bearer ${readFileSync(join(dir, 'busan', 'secrets', 'admin.token'), 'utf8').trim()}`,
    };
    const subs = await fetch(`${bases.get('busan')}/validation/submissions`, { headers: busan });
    const acme = ((await subs.json()) as { submissions: { id: string; name: string; status: string }[] }).submissions;
    expect(acme.map((s) => [s.name, s.status])).toEqual([['ACME hypertension risk', 'validated']]);
    const report = await fetch(`${bases.get('busan')}/validation/submissions/${acme[0]!.id}/report`, {
      headers: busan,
    });
    expect(report.status).toBe(200);
    const pooled = (await report.json()) as {
      report: {
        format: string;
        federation: { asked: string[]; tookPart: string[]; failed: { hub: string; remoteCode?: string }[] };
      };
    };
    expect(pooled.report.format).toBe('healthmesh-validation-report/1');
    // Asked of all three; with 150 residents a hub, a hub's gate may refuse its part as too small (named, number-free).
    const { asked, tookPart, failed } = pooled.report.federation;
    expect([...asked].sort()).toEqual(['busan', 'gwangju', 'gyeonggi']);
    expect(tookPart.length, out).toBeGreaterThanOrEqual(2);
    expect([...tookPart, ...failed.map((f) => f.hub)].sort()).toEqual(['busan', 'gwangju', 'gyeonggi']);
    for (const f of failed) expect(f.remoteCode, out).toBe('DISCLOSURE_REFUSED');
    // Each hub's data steward, not its admin, approved the validation project at their own hub.
    for (const hub of ['gwangju', 'gyeonggi', 'busan']) expect(out).toMatch(new RegExp(`steward +${hub} `));
    const filedAtBusan = (await (await fetch(`${bases.get('busan')}/projects`, { headers: busan })).json()) as {
      id: string;
      purpose: string;
    }[];
    const validationProject = filedAtBusan.find((p) => p.purpose === 'ai-validation');
    expect(validationProject, out).toBeDefined();
    const decided = (await (
      await fetch(`${bases.get('busan')}/projects/${validationProject!.id}`, { headers: busan })
    ).json()) as { hubs: { hub: string; decision: string; decidedBy: string | null }[] };
    expect(Object.fromEntries(decided.hubs.map((h) => [h.hub, [h.decision, h.decidedBy]]))).toEqual({
      gwangju: ['approved', 'steward-lee'],
      gyeonggi: ['approved', 'steward-choi'],
      busan: ['approved', 'steward-jung'],
    });
    process.emit('SIGINT');
    expect(await running).toBe(0);
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }, 300_000);
});
