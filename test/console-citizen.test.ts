import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hubModelRegistry } from '../src/models/index.js';
import { generateRegion } from '../src/synth/index.js';
import { collectErrors, describeWithChromium, screenshotPath, serveToChromium } from './support/browser.js';
import { handCard, handLogistic, planOf } from './support/hand-made-model.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

const REGION = 'gwangju';

/**
 * Issue 18 at phone size, in Korean: a synthetic resident signs in, enrols with the code their source issued, reads
 * their daily-life charts and timeline, refuses research, and downloads their record.
 */
describeWithChromium('a citizen in the console at phone size (chromium)', () => {
  const input = mkdtempSync(join(tmpdir(), 'hm-citizen-synth-'));
  let env: Awaited<ReturnType<typeof tempHub>>;
  let served: Awaited<ReturnType<typeof serveToChromium>> | undefined;
  let base: string;
  let browser: Browser;
  let token = '';
  let code = '';

  beforeAll(async () => {
    generateRegion({ region: REGION, people: 40, seed: 'citizen', out: input });
    env = await tempHub(REGION);
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    await env.hub.ingest.ingestPaths(files, ingestOptions(env.hub, { source: `synth-${REGION}`, actor: 'cli' }));
    token = await env.hub.tokens.create('resident-1', 'citizen');
    // A home resident (`p<i>` in its source) who wears a step counter, so that the daily-life charts have data.
    let resident: string | undefined;
    for (let i = 0; resident === undefined && i < 40; i++) {
      const key = env.hub.pseudonymiser.patientKey(`synth-${REGION}`, `p${i}`);
      for await (const chunk of env.hub.store.streamCurrent(
        { patients: [key], types: ['Observation'] },
        { order: 'id' },
      ))
        if (chunk.some((v) => v.content.includes('"41950-7"'))) resident = `p${i}`;
    }
    expect(resident, 'a resident with step counts').toBeDefined();
    // One of the hub's own models, on age alone: every resident has a risk from it, with age as its factor.
    const ageOnly = {
      name: 'stroke by age',
      conceptSets: {},
      population: { indexDate: '2025-01-01' },
      features: [{ name: 'age', kind: 'age' as const }],
    };
    await (await hubModelRegistry(env.hub)).register(
      'stroke-age',
      handLogistic(['age'], [-5, 0.05]),
      handCard('logistic', ['age'], [0.05], { age: 45 }),
      'test',
      planOf(ageOnly),
    );
    code = (await env.hub.enrolment.issue({ name: 'source', role: 'admin' }, `synth-${REGION}`, resident!)).code;
    served = await serveToChromium(env.hub);
    ({ base, browser } = served);
  }, 120_000);
  afterAll(async () => {
    await served?.close();
    await env?.cleanup();
    rmSync(input, { recursive: true, force: true });
  });

  it('enrols, shows the record and charts, sets consent and downloads, at 390 px in Korean', async () => {
    const context = await browser.newContext({
      locale: 'ko-KR',
      viewport: { width: 390, height: 844 },
      acceptDownloads: true,
    });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const errors = collectErrors(page);
    await page.goto(`${base}/`);
    await page.getByLabel('접근 토큰').fill(token);
    await page.getByRole('button', { name: '로그인' }).click();
    // A citizen's console has their own pages only.
    const nav = page.getByRole('navigation');
    await nav.getByRole('link', { name: '내 기록' }).waitFor();
    expect(await nav.getByRole('link').allTextContents()).toEqual(['내 기록', '내 동의']);
    await page.getByText('아직 연결된 기록이 없습니다').waitFor();

    await page.getByLabel('등록 코드').fill(code.toLowerCase());
    await page.getByRole('button', { name: '내 기록 연결' }).click();
    await page.getByText(`synth-${REGION}의 기록이 연결되었습니다.`).waitFor();
    await page.getByTestId('linked-records').getByText(`synth-${REGION}에서`).waitFor();
    // Daily life (steps, sleep, resting heart rate) as charts; the timeline as a table.
    await page.locator('figure', { hasText: '하루 걸음 수' }).first().waitFor();
    const rows = page.getByTestId('timeline').locator('tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBeGreaterThan(3);
    // Codes are named in Korean where the hub knows them (mydata/code-names.ts), not only as the record spells them.
    expect(await page.getByTestId('timeline').textContent()).toMatch(
      /하루 걸음 수|수면 시간|안정 시 심박수|수축기 혈압/,
    );
    // The management plan: a blood-pressure target for everyone, with its status, in Korean.
    const bp = page.getByTestId('plan-targets').locator('tr', { hasText: '혈압' });
    await bp.first().waitFor();
    expect(await bp.first().textContent()).toMatch(/목표 달성|목표 미달|측정 없음/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    await page.screenshot({ path: screenshotPath('citizen-01-record'), fullPage: true });

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: '스프레드시트 (CSV)' }).click();
    const csv = readFileSync((await (await download).path())!, 'utf8');
    expect(csv.split('\n')[0]).toBe('date,type,display,display_ko,system,code,value,unit,category,hub');
    expect(csv.split('\n').length).toBeGreaterThan(4);

    // A risk from the hub's own model with its factor in plain Korean (validated models: validation.test.ts).
    const trained = page.getByTestId('trained-risks');
    await trained.getByText(/나이 [\d.]+: 학습 인구 평균 45보다 (높아|낮아) 위험을 (높입니다|낮춥니다)/).waitFor();
    // Whose records the risks stand on: this hub's alone, no record at a peer being linked.
    await page.getByTestId('risks-from').getByText('계산에 쓴 내 기록의 허브: gwangju').waitFor();
    expect(await page.getByTestId('risks-peer-missed').count()).toBe(0);
    // An app the resident chooses reads their record with the token shown once, until they revoke it.
    await page.getByLabel('앱', { exact: true }).fill('혈압 수첩');
    await page.getByRole('button', { name: '허용', exact: true }).click();
    const appToken = (await page.getByTestId('app-token').textContent())!;
    const asApp = () => fetch(`${base}/me/timeline`, { headers: { authorization: `Bearer ${appToken}` } });
    expect((await asApp()).status).toBe(200);
    await page.getByRole('button', { name: '철회 혈압 수첩' }).click();
    await page.getByRole('button', { name: '철회 혈압 수첩' }).waitFor({ state: 'detached' });
    await expect.poll(async () => (await asApp()).status).toBe(401);

    await nav.getByRole('link', { name: '내 동의' }).click();
    const research = page.getByTestId('purpose-research');
    await research.getByText('지금 사용: 포함').waitFor();
    await research.getByRole('radio', { name: '거부' }).check();
    await research.getByText('지금 사용: 제외').waitFor();
    await research.getByText('변경 이력').click();
    await research.getByText('거부', { exact: false }).last().waitFor();
    // Who used my data (GET /me/uses): no project's work at this hub included this resident.
    await page.getByTestId('my-uses').getByText('이 허브에서 내 기록을 쓴 과제가 없습니다.').waitFor();
    await page.screenshot({ path: screenshotPath('citizen-02-consent'), fullPage: true });
    // The hub applies it: research now leaves this resident out.
    const [record] = await env.hub.enrolment.records('resident-1');
    const f = await env.hub.consent.filter('research');
    const left = await env.hub.db.all<{ n: unknown }>(
      `SELECT COUNT(*) AS n FROM (SELECT $1 AS patient_key) p WHERE NOT (${f.allows('p.patient_key')})`,
      [record!.patientKey],
    );
    expect(Number(left[0]!.n)).toBe(1);
    // A record linked at a hub this one cannot reach (it is no peer of this lone hub): My record names it beside
    // the risks, computed from this hub's records alone.
    await env.hub.db.run('INSERT INTO citizen_peer_record (citizen, hub, source, linked_at) VALUES ($1, $2, $3, $4)', [
      'resident-1',
      'busan',
      'synth-busan',
      new Date(),
    ]);
    await nav.getByRole('link', { name: '내 기록' }).click();
    await page
      .getByTestId('risks-peer-missed')
      .getByText(/연결하지 못한 허브: busan/)
      .waitFor();
    expect(await page.getByTestId('risks-from').textContent()).toBe('계산에 쓴 내 기록의 허브: gwangju');
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    await page.screenshot({ path: screenshotPath('citizen-03-risks-peer'), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
