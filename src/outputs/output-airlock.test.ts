import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../access/index.js';
import { silentLogger } from '../core/index.js';
import type { Hub } from '../hub/index.js';
import { initHub, openHub } from '../hub/index.js';
import type { OutputRequest, OutputRequestBody } from './index.js';

const researcher: Principal = { name: 'r-kim', role: 'researcher' };
const steward: Principal = { name: 's-lee', role: 'steward' };
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
const SOURCE = { analysis: 'cohort', reference: 'cohort run c-1' };

/** A count table whose every cell clears the default threshold (10), and one with a small cell. */
const WIDE: OutputRequestBody = {
  kind: 'table',
  title: 'Diabetes by age band and sex',
  table: {
    rows: ['40-59', '60+'],
    columns: ['female', 'male'],
    cells: [
      [41, 38],
      [57, 62],
    ],
  },
  source: SOURCE,
};
const SMALL: OutputRequestBody = {
  kind: 'table',
  title: 'Rare outcome by age band',
  table: {
    rows: ['40-59', '60+'],
    columns: ['female', 'male'],
    cells: [
      [41, 3],
      [57, 62],
    ],
  },
  source: SOURCE,
};

describe('output airlock of project workspaces', () => {
  let dir: string;
  let hub: Hub;
  beforeAll(async () => {
    dir = join(mkdtempSync(join(tmpdir(), 'hm-outputs-')), 'hub');
    await initHub(dir, { name: 'airlock' });
    hub = await openHub(dir, { logger: silentLogger() });
  });
  afterAll(async () => hub?.close());

  it('releases a count table that passes every rule at once, as the gate rounds it, with its provenance', async () => {
    const out = await hub.outputs.request(researcher, 'prj-1', WIDE);
    expect(out).toMatchObject({
      status: 'released',
      requester: 'r-kim',
      projectId: 'prj-1',
      rules: ['threshold', 'complementary', 'differencing'],
      decidedBy: 'automatic check',
      source: SOURCE,
    });
    expect(out.sha256).toMatch(/^[0-9a-f]{64}$/);
    const { body, mediaType } = await hub.outputs.download(out.id);
    expect(mediaType).toMatch(/^text\/csv/);
    // Rounded to the policy's base of 5, margins rounded on their own.
    expect(body.value.toString('utf8')).toBe(',female,male,total\n40-59,40,40,80\n60+,55,60,120\ntotal,100,100,200\n');
  });

  it('refuses a table with a count under the threshold, keeps nothing of it, names the rule and no number', async () => {
    const before = (await hub.outputs.list('prj-1')).length;
    const error = await hub.outputs.request(researcher, 'prj-1', SMALL).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OUTPUT_REFUSED' });
    expect((error as Error).message).toContain('threshold');
    expect((error as Error).message).not.toMatch(/\d/);
    expect(await hub.outputs.list('prj-1')).toHaveLength(before);
    const denied = await hub.db.all<{ detail: string }>(
      "SELECT CAST(detail AS VARCHAR) AS detail FROM audit_log WHERE action = 'output-request' AND outcome = 'denied'",
    );
    expect(denied).toHaveLength(1);
    expect(denied[0]!.detail).toContain('threshold');
  });

  it('refuses a table that, with one already out of the project, isolates fewer people than the threshold', async () => {
    // The released cohort less one person (a woman aged 60+): subtracted, the two tables would describe her alone.
    const lessOne: OutputRequestBody = {
      ...WIDE,
      title: 'Diabetes by age band and sex, transfers excluded',
      table: {
        rows: ['40-59', '60+'],
        columns: ['female', 'male'],
        cells: [
          [41, 38],
          [56, 62],
        ],
      },
    };
    const error = await hub.outputs.request(researcher, 'prj-1', lessOne).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OUTPUT_REFUSED' });
    expect((error as Error).message).not.toMatch(/\d/);
    const denied = await hub.db.all<{ detail: string }>(
      "SELECT CAST(detail AS VARCHAR) AS detail FROM audit_log WHERE action = 'output-request' AND outcome = 'denied' ORDER BY seq DESC",
    );
    expect(denied[0]!.detail).toContain('differencing');
    // The same table again, and another of the same layout far from it, still leave; so does the pair elsewhere,
    // since each project is checked against its own outputs.
    expect((await hub.outputs.request(researcher, 'prj-1', WIDE)).status).toBe('released');
    const other: OutputRequestBody = {
      ...WIDE,
      title: 'Hypertension by age band and sex',
      table: {
        rows: ['40-59', '60+'],
        columns: ['female', 'male'],
        cells: [
          [80, 20],
          [15, 90],
        ],
      },
    };
    expect((await hub.outputs.request(researcher, 'prj-1', other)).status).toBe('released');
    expect((await hub.outputs.request(researcher, 'prj-4', lessOne)).status).toBe('released');
    expect((await hub.outputs.list('prj-1')).map((o) => o.title)).not.toContain(lessOne.title);
  });

  it('sends a figure to a steward, who releases it; only then may it be downloaded', async () => {
    const asked = await hub.outputs.request(researcher, 'prj-1', {
      kind: 'figure',
      title: 'Kaplan-Meier curve',
      mediaType: 'image/png',
      data: PNG.toString('base64'),
      table: WIDE.kind === 'table' ? WIDE.table : undefined,
      source: { analysis: 'characterisation' },
    });
    expect(asked.status).toBe('awaiting-review');
    expect((await hub.outputs.awaitingReview()).map((o) => o.id)).toEqual([asked.id]);
    await expect(hub.outputs.download(asked.id)).rejects.toMatchObject({ code: 'OUTPUT_NOT_RELEASED' });
    // Nobody checks their own output.
    await expect(
      hub.outputs.decide(researcher, asked.id, { decision: 'release', comment: 'mine' }),
    ).rejects.toMatchObject({ code: 'AUTH_FORBIDDEN' });
    const released = await hub.outputs.decide(steward, asked.id, { decision: 'release', comment: 'curve only' });
    expect(released).toMatchObject({
      status: 'released',
      decidedBy: 's-lee',
      comment: 'curve only',
      rules: ['threshold', 'complementary', 'differencing', 'output-review'],
    });
    const { body, mediaType } = await hub.outputs.download(asked.id);
    expect(mediaType).toBe('image/png');
    expect(body.value.equals(PNG)).toBe(true);
    await expect(
      hub.outputs.decide(steward, asked.id, { decision: 'deny', comment: 'changed my mind' }),
    ).rejects.toMatchObject({ code: 'OUTPUT_ALREADY_DECIDED' });
  });

  it('keeps a denied figure inside, and refuses a figure whose counts fail before any steward sees it', async () => {
    const asked = await hub.outputs.request(researcher, 'prj-2', {
      kind: 'figure',
      title: 'Forest plot',
      mediaType: 'image/svg+xml',
      data: Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>').toString('base64'),
      source: { analysis: 'model' },
    });
    await hub.outputs.decide(steward, asked.id, { decision: 'deny', comment: 'labels show single patients' });
    await expect(hub.outputs.download(asked.id)).rejects.toMatchObject({ code: 'OUTPUT_NOT_RELEASED' });
    await expect(
      hub.outputs.request(researcher, 'prj-2', {
        kind: 'figure',
        title: 'Bars',
        mediaType: 'image/png',
        data: PNG.toString('base64'),
        table: SMALL.kind === 'table' ? SMALL.table : undefined,
        source: { analysis: 'cohort' },
      }),
    ).rejects.toMatchObject({ code: 'OUTPUT_REFUSED' });
    expect((await hub.outputs.awaitingReview()).filter((o) => o.projectId === 'prj-2')).toHaveLength(0);
  });

  it('names the field of a malformed output: a ragged table, an image that is not of its type', async () => {
    await expect(
      hub.outputs.request(researcher, 'prj-3', {
        ...WIDE,
        table: { rows: ['a', 'b'], columns: ['x', 'y'], cells: [[20, 20], [20]] },
      } as OutputRequest),
    ).rejects.toMatchObject({ code: 'OUTPUT_INVALID', location: { path: 'table.cells[1]' } });
    await expect(
      hub.outputs.request(researcher, 'prj-3', {
        kind: 'figure',
        title: 'x',
        mediaType: 'image/png',
        data: Buffer.from('<svg></svg>').toString('base64'),
        source: SOURCE,
      }),
    ).rejects.toMatchObject({ code: 'OUTPUT_INVALID', location: { path: 'mediaType' } });
  });

  it('audits every request and decision in the hub chain', async () => {
    const rows = await hub.db.all<{ action: string; actor: string }>(
      "SELECT action, actor FROM audit_log WHERE action LIKE 'output-%' ORDER BY seq",
    );
    expect(rows.filter((r) => r.action === 'output-review').map((r) => r.actor)).toEqual(['s-lee', 's-lee']);
    expect(rows.filter((r) => r.action === 'output-request').length).toBeGreaterThanOrEqual(5);
    expect((await hub.audit.verify()).ok).toBe(true);
  });
});
