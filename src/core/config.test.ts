import { describe, expect, it } from 'vitest';
import { defaultConfig, HealthmeshError, parseConfig } from './index.js';

describe('hub configuration', () => {
  it('fills missing sections with defaults', () => {
    expect(parseConfig({ name: 'gwangju' }, 'hub.json')).toEqual(defaultConfig('gwangju'));
  });

  it.each([
    [{ name: 'Not Valid!' }, 'name'],
    [{ name: 'a', role: 'hospital' }, 'role'],
    [{ name: 'a', privacy: { birthDatePrecision: 'week' } }, 'privacy.birthDatePrecision'],
    [{ name: 'a', server: { port: 70000 } }, 'server.port'],
    [{ name: 'a', ingest: { batchSize: 0 } }, 'ingest.batchSize'],
    [{ name: 'a', store: { memoryLimit: 'lots' } }, 'store.memoryLimit'],
    [{ name: 'a', server: 'x' }, 'server'],
  ])('names the field that is wrong in %j', (value, path) => {
    try {
      parseConfig(value, 'hub.json');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(HealthmeshError);
      expect((e as HealthmeshError).code).toBe('CONFIG_INVALID');
      expect((e as HealthmeshError).location.path).toBe(path);
    }
  });
});
