import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { silentLogger } from '../src/core/index.js';
import { openHub } from '../src/hub/index.js';
import { captureIo } from './support/cli-capture.js';

describe('healthmesh identity, peers and linkage commands', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-fed-cli-'));
  const gwangju = join(root, 'gwangju');
  const busan = join(root, 'busan');
  const agency = join(root, 'agency');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('prints help with an example for every command', async () => {
    for (const cmd of [
      ['identity'],
      ['peers', 'add'],
      ['peers', 'list'],
      ['peers', 'remove'],
      ['linkage', 'init'],
      ['linkage', 'issue'],
    ]) {
      const c = captureIo();
      expect(await main([...cmd, '--help'], c.io)).toBe(0);
      expect(c.out).toContain('Example:');
    }
  });

  it('makes an owner-only Ed25519 identity at init and prints its public JWK', async () => {
    expect(await main(['init', '--dir', gwangju, '--name', 'gwangju'], captureIo().io)).toBe(0);
    expect(await main(['init', '--dir', busan, '--name', 'busan'], captureIo().io)).toBe(0);
    expect(statSync(join(gwangju, 'secrets', 'identity.pem')).mode & 0o777).toBe(0o600);
    const c = captureIo();
    expect(await main(['identity', '--dir', gwangju, '--json'], c.io)).toBe(0);
    const id = JSON.parse(c.out) as {
      name: string;
      publicKey: { kty: string; crv: string; x: string };
      thumbprint: string;
    };
    expect(id.name).toBe('gwangju');
    expect(id.publicKey).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(id.publicKey.x).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(join(gwangju, 'secrets', 'identity.pem'), 'utf8')).not.toContain(id.publicKey.x);
  });

  it('adds, lists and removes peers, with a JWK or its bare x', async () => {
    const id = captureIo();
    await main(['identity', '--dir', busan, '--json'], id.io);
    const busanKey = (JSON.parse(id.out) as { publicKey: { x: string } }).publicKey;
    expect(
      await main(
        ['peers', 'add', 'busan', 'http://127.0.0.1:8083/', JSON.stringify(busanKey), '--dir', gwangju],
        captureIo().io,
      ),
    ).toBe(0);
    expect(
      await main(['peers', 'add', 'gyeonggi', 'http://127.0.0.1:8082', busanKey.x, '--dir', gwangju], captureIo().io),
    ).toBe(0);
    const list = captureIo();
    expect(await main(['peers', 'list', '--dir', gwangju, '--json'], list.io)).toBe(0);
    expect(JSON.parse(list.out)).toEqual([
      { name: 'busan', url: 'http://127.0.0.1:8083', publicKey: busanKey },
      { name: 'gyeonggi', url: 'http://127.0.0.1:8082', publicKey: busanKey },
    ]);
    expect(await main(['peers', 'remove', 'gyeonggi', '--dir', gwangju], captureIo().io)).toBe(0);
    const after = captureIo();
    await main(['peers', 'list', '--dir', gwangju], after.io);
    expect(after.out).toBe(`busan\thttp://127.0.0.1:8083\t${busanKey.x}\n`);
  });

  it("takes a bare key that begins with '-' (one key in 64) as the key, not as an option", async () => {
    const dashKey = `-${'A'.repeat(41)}E`;
    expect(
      await main(['peers', 'add', 'daegu', 'http://127.0.0.1:8090', dashKey, '--dir', gwangju], captureIo().io),
    ).toBe(0);
    const list = captureIo();
    await main(['peers', 'list', '--dir', gwangju, '--json'], list.io);
    expect(
      (JSON.parse(list.out) as { name: string; publicKey: { x: string } }[]).find((p) => p.name === 'daegu'),
    ).toMatchObject({ publicKey: { x: dashKey } });
    expect(await main(['peers', 'remove', 'daegu', '--dir', gwangju], captureIo().io)).toBe(0);
  });

  it('refuses a malformed peer with exit 1 and a code naming the field', async () => {
    const c = captureIo();
    expect(await main(['peers', 'add', 'busan', 'ftp://x', 'abc', '--dir', gwangju], c.io)).toBe(1);
    expect(c.err).toMatch(/FEDERATION_INVALID_PEERS.*url/);
    const unknown = captureIo();
    expect(await main(['peers', 'remove', 'nowhere', '--dir', gwangju], unknown.io)).toBe(1);
    expect(unknown.err).toContain('FEDERATION_UNKNOWN_PEER');
  });

  it("issues a hub its linkage key into its secrets, which the hub's ingest then uses", async () => {
    expect(await main(['linkage', 'init', '--dir', agency], captureIo().io)).toBe(0);
    expect(statSync(join(agency, 'master.key')).mode & 0o777).toBe(0o600);
    const again = captureIo();
    expect(await main(['linkage', 'init', '--dir', agency], again.io)).toBe(1);
    expect(again.err).toContain('LINKAGE_ALREADY_INITIALISED');
    const c = captureIo();
    expect(await main(['linkage', 'issue', '--dir', agency, '--hub-dir', gwangju], c.io)).toBe(0);
    expect(statSync(join(gwangju, 'secrets', 'linkage.json')).mode & 0o777).toBe(0o600);
    const log = readFileSync(join(agency, 'issued.ndjson'), 'utf8');
    expect(JSON.parse(log)).toMatchObject({ hub: 'gwangju' });
    expect(log).not.toMatch(/scalar|pointKey/);
    const hub = await openHub(gwangju, { logger: silentLogger() });
    try {
      expect(hub.linkageKey?.hub).toBe('gwangju');
    } finally {
      await hub.close();
    }
  });

  it('refuses to install a key issued for another hub', async () => {
    const out = join(root, 'for-busan.json');
    expect(await main(['linkage', 'issue', '--dir', agency, '--hub', 'busan', '--out', out], captureIo().io)).toBe(0);
    const wrong = captureIo();
    expect(await main(['linkage', 'issue', '--dir', agency, '--hub', 'busan', '--hub-dir', gwangju], wrong.io)).toBe(1);
    expect(wrong.err).toContain('LINKAGE_INVALID_KEY');
  });
});
