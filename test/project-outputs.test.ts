import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';

/**
 * Issue 16 item 4, the airlock over HTTP: members of an approved project ask for outputs; count tables pass or fail
 * the release gate's rules at once, figures wait for a steward; only released outputs download, only for members.
 */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
const TABLE = {
  rows: ['40-59', '60+'],
  columns: ['female', 'male'],
  cells: [
    [41, 38],
    [57, 62],
  ],
};
const SMALL = {
  rows: ['40-59', '60+'],
  columns: ['female', 'male'],
  cells: [
    [41, 4],
    [57, 62],
  ],
};
const SOURCE = { analysis: 'cohort', reference: 'outpatients' };

const codeOf = (res: LightMyRequestResponse): string | undefined =>
  (res.json() as { issue?: { details?: { coding?: { code?: string }[] } }[] }).issue?.[0]?.details?.coding?.[0]?.code;

describe('the output airlock of an approved project, over HTTP', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-airlock-'));
  const clock = fixedClock(new Date('2026-03-01T09:00:00Z'));
  let hub: Hub;
  let app: FastifyInstance;
  const tokens = new Map<string, string>();
  let projectId = '';
  const call = (who: string, method: 'GET' | 'POST', url: string, body?: unknown) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tokens.get(who)}` },
      ...(body !== undefined && { payload: body as object }),
    });

  beforeAll(async () => {
    const dir = join(root, 'hub');
    await initHub(dir, { name: 'airlock', config: { role: 'research' }, logger: silentLogger(), clock });
    hub = await openHub(dir, { logger: silentLogger(), clock });
    app = await buildServer(hub);
    for (const [name, role] of [
      ['ana', 'researcher'],
      ['chul', 'researcher'],
      ['sun', 'steward'],
    ] as const) {
      tokens.set(name, await hub.tokens.create(name, role));
    }
    const filed = await call('ana', 'POST', '/projects', {
      title: 'Diabetes outcomes',
      purpose: 'research',
      tables: [{ name: 'observation', columns: ['patient_key', 'code_code'] }],
      endDate: '2026-06-30',
      members: [],
      ethicsApproval: 'IRB-2026-0142',
      dataUseAgreement: true,
    });
    expect(filed.statusCode).toBe(201);
    projectId = (filed.json() as { id: string }).id;
  });
  afterAll(async () => {
    await app?.close();
    await hub?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses outputs of a project not approved yet', async () => {
    const res = await call('ana', 'POST', `/projects/${projectId}/outputs`, {
      kind: 'table',
      title: 't',
      table: TABLE,
      source: SOURCE,
    });
    expect(res.statusCode).toBe(403);
    expect(codeOf(res)).toBe('PROJECT_NOT_APPROVED');
    const approved = await call('sun', 'POST', `/projects/${projectId}/review`, { decision: 'approve', comment: 'ok' });
    expect(approved.statusCode).toBe(200);
  });

  it('releases a table that passes, refuses one under the threshold with no number, and audits both', async () => {
    const ok = await call('ana', 'POST', `/projects/${projectId}/outputs`, {
      kind: 'table',
      title: 'by age and sex',
      table: TABLE,
      source: SOURCE,
    });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ status: 'released', requester: 'ana', projectId });
    const csv = await call('ana', 'GET', `/outputs/${ok.json().id}/download`);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.headers['x-content-sha256']).toBe(ok.json().sha256);
    expect(csv.body).toBe(',female,male,total\n40-59,40,40,80\n60+,55,60,120\ntotal,100,100,200\n');
    const small = await call('ana', 'POST', `/projects/${projectId}/outputs`, {
      kind: 'table',
      title: 'rare',
      table: SMALL,
      source: SOURCE,
    });
    expect(small.statusCode).toBe(403);
    expect(codeOf(small)).toBe('OUTPUT_REFUSED');
    expect(small.body).not.toMatch(/\b4\b/);
    const [refused] = await hub.audit.recent(1, ['output-request']);
    expect(refused).toMatchObject({ actor: 'ana', outcome: 'denied' });
  });

  it('sends a figure to the steward, who sees it and releases it; then its member downloads it', async () => {
    const asked = await call('ana', 'POST', `/projects/${projectId}/outputs`, {
      kind: 'figure',
      title: 'survival curve',
      mediaType: 'image/png',
      data: PNG.toString('base64'),
      source: { analysis: 'characterisation' },
    });
    expect(asked.json()).toMatchObject({ status: 'awaiting-review' });
    const id = asked.json().id as string;
    expect(codeOf(await call('ana', 'GET', `/outputs/${id}/download`))).toBe('OUTPUT_NOT_RELEASED');
    expect((await call('ana', 'GET', '/outputs/awaiting-review')).statusCode).toBe(403);
    const queue = await call('sun', 'GET', '/outputs/awaiting-review');
    expect(queue.json().map((o: { id: string }) => o.id)).toEqual([id]);
    const shown = await call('sun', 'GET', `/outputs/${id}/content`);
    expect(shown.headers['content-type']).toBe('image/png');
    expect(shown.headers['content-security-policy']).toContain('sandbox');
    expect(shown.rawPayload.equals(PNG)).toBe(true);
    const decided = await call('sun', 'POST', `/outputs/${id}/decision`, { decision: 'release', comment: 'curve ok' });
    expect(decided.json()).toMatchObject({ status: 'released', decidedBy: 'sun', rules: ['output-review'] });
    const png = await call('ana', 'GET', `/outputs/${id}/download`);
    expect(png.statusCode).toBe(200);
    expect(png.rawPayload.equals(PNG)).toBe(true);
    // Someone outside the project neither lists nor downloads its outputs.
    expect((await call('chul', 'GET', `/projects/${projectId}/outputs`)).statusCode).toBe(403);
    expect((await call('chul', 'GET', `/outputs/${id}/download`)).statusCode).toBe(403);
    const list = await call('ana', 'GET', `/projects/${projectId}/outputs`);
    expect(list.json().map((o: { status: string }) => o.status)).toEqual(['released', 'released']);
  });

  it('ends outputs with the project: past its end date nothing more is asked or downloaded', async () => {
    const [first] = (await call('ana', 'GET', `/projects/${projectId}/outputs`)).json() as { id: string }[];
    clock.advance(200 * 86_400_000);
    const late = await call('ana', 'POST', `/projects/${projectId}/outputs`, {
      kind: 'table',
      title: 't',
      table: TABLE,
      source: SOURCE,
    });
    expect(codeOf(late)).toBe('PROJECT_EXPIRED');
    expect(codeOf(await call('ana', 'GET', `/outputs/${first!.id}/download`))).toBe('PROJECT_EXPIRED');
  });
});
