import { describe, expect, it } from 'vitest';
import { defaultConfig, HealthmeshError, parseConfig, thresholdCount } from './index.js';

describe('hub configuration', () => {
  it('fills missing sections with defaults', () => {
    expect(parseConfig({ name: 'gwangju' }, 'hub.json')).toEqual(defaultConfig('gwangju'));
  });

  it('reads epidemic thresholds as a count or a rate per 1,000 of a population', () => {
    const c = parseConfig(
      {
        name: 'a',
        surveillance: { epidemicThresholds: { a: { weeklyCount: 12 }, b: { ratePer1000: 2, population: 5000 } } },
      },
      'hub.json',
    );
    expect(c.surveillance.alertQuantile).toBe(0.5);
    expect(thresholdCount(c.surveillance.epidemicThresholds.a ?? {})).toBe(12);
    expect(thresholdCount(c.surveillance.epidemicThresholds.b ?? {})).toBe(10);
  });

  it('reads sign-in settings, keeping defaults a partial section does not name; an OpenID role defaults to researcher', () => {
    const c = parseConfig(
      {
        name: 'a',
        auth: {
          sessionMinutes: 5,
          oidc: {
            issuer: 'https://sso.cnuh.example.kr',
            clientId: 'hub',
            clientSecret: 's',
            redirectUri: 'https://hub.example.kr/auth/oidc/callback',
          },
        },
      },
      'hub.json',
    );
    expect(c.auth).toMatchObject({ sessionMinutes: 5, refreshHours: 12, maxFailedSignIns: 5, lockoutMinutes: 15 });
    expect(c.auth.oidc?.defaultRole).toBe('researcher');
  });

  it('reads the drift limits of served models, keeping the defaults a partial section does not name', () => {
    const c = parseConfig({ name: 'busan', validation: { driftPsiLimit: 0.25 } }, 'hub.json');
    expect(c.validation).toEqual({ driftPsiLimit: 0.25, driftMinPredictions: 100, driftWindowDays: 30 });
  });

  it('reads the audit checkpoint interval and refuses one that is not a positive integer', () => {
    expect(parseConfig({ name: 'a' }, 'hub.json').audit.checkpointEvery).toBe(1000);
    expect(parseConfig({ name: 'a', audit: { checkpointEvery: 50 } }, 'hub.json').audit.checkpointEvery).toBe(50);
    for (const bad of [0, 2.5, '100'])
      expect(() => parseConfig({ name: 'a', audit: { checkpointEvery: bad } }, 'hub.json')).toThrow(
        expect.objectContaining({
          code: 'CONFIG_INVALID',
          location: expect.objectContaining({ path: 'audit.checkpointEvery' }),
        }),
      );
  });

  it('keeps the disclosure defaults a partial policy does not name', () => {
    const c = parseConfig({ name: 'a', privacy: { disclosure: { threshold: 20 } } }, 'hub.json');
    expect(c.privacy.disclosure).toEqual({ threshold: 20, rounding: 5, minCellSize: 10 });
    expect(c.privacy.birthDatePrecision).toBe('month');
  });

  it('reads per-purpose consent policy and extra codings', () => {
    const c = parseConfig(
      {
        name: 'a',
        privacy: {
          consent: {
            purposes: {
              research: { withoutConsent: true },
              'registry-linkage': { default: 'opt-in', codings: [{ system: 'urn:x', code: 'LINK' }] },
            },
          },
        },
      },
      'hub.json',
    );
    expect(c.privacy.consent?.purposes.research).toEqual({ withoutConsent: true });
    expect(c.privacy.consent?.purposes['registry-linkage']).toEqual({
      default: 'opt-in',
      codings: [{ system: 'urn:x', code: 'LINK' }],
    });
  });

  it.each([
    [{ name: 'a', privacy: { consent: [] } }, 'privacy.consent'],
    [{ name: 'a', privacy: { consent: { purposes: { Research: {} } } } }, 'privacy.consent.purposes.Research'],
    [
      { name: 'a', privacy: { consent: { purposes: { research: { default: 'maybe' } } } } },
      'privacy.consent.purposes.research.default',
    ],
    [
      { name: 'a', privacy: { consent: { purposes: { research: { withoutConsent: 'yes' } } } } },
      'privacy.consent.purposes.research.withoutConsent',
    ],
    [
      { name: 'a', privacy: { consent: { purposes: { research: { codings: [{ code: 'X' }] } } } } },
      'privacy.consent.purposes.research.codings[0]',
    ],
    [
      { name: 'a', privacy: { consent: { purposes: { research: { optIn: true } } } } },
      'privacy.consent.purposes.research.optIn',
    ],
    [{ name: 'Not Valid!' }, 'name'],
    [{ name: 'a', role: 'hospital' }, 'role'],
    [{ name: 'a', privacy: { birthDatePrecision: 'week' } }, 'privacy.birthDatePrecision'],
    [{ name: 'a', server: { port: 70000 } }, 'server.port'],
    [{ name: 'a', ingest: { batchSize: 0 } }, 'ingest.batchSize'],
    [{ name: 'a', store: { memoryLimit: 'lots' } }, 'store.memoryLimit'],
    [{ name: 'a', server: 'x' }, 'server'],
    [{ name: 'a', surveillance: { alertQuantile: 1.5 } }, 'surveillance.alertQuantile'],
    [{ name: 'a', validation: { driftPsiLimit: 0 } }, 'validation.driftPsiLimit'],
    [{ name: 'a', validation: { driftWindowDays: 1.5 } }, 'validation.driftWindowDays'],
    [{ name: 'a', surveillance: { epidemicThresholds: { a: {} } } }, 'surveillance.epidemicThresholds.a'],
    [
      { name: 'a', surveillance: { epidemicThresholds: { a: { ratePer1000: 2 } } } },
      'surveillance.epidemicThresholds.a.population',
    ],
    [{ name: 'a', privacy: { disclosure: { threshold: 0 } } }, 'privacy.disclosure.threshold'],
    [{ name: 'a', privacy: { disclosure: { rounding: 2.5 } } }, 'privacy.disclosure.rounding'],
    [{ name: 'a', federation: { clockSkewSeconds: -1 } }, 'federation.clockSkewSeconds'],
    [{ name: 'a', federation: { maxBodyBytes: 100 } }, 'federation.maxBodyBytes'],
    [{ name: 'a', server: { maxBodyBytes: '1MB' } }, 'server.maxBodyBytes'],
    [{ name: 'a', ingest: { maxBundleEntries: 0 } }, 'ingest.maxBundleEntries'],
    [{ name: 'a', auth: { sessionMinutes: 0 } }, 'auth.sessionMinutes'],
    [{ name: 'a', auth: { maxFailedSignIns: 2.5 } }, 'auth.maxFailedSignIns'],
    [{ name: 'a', auth: { sessionMinute: 5 } }, 'auth.sessionMinute'],
    [
      {
        name: 'a',
        auth: {
          oidc: {
            ...{
              issuer: 'https://sso.cnuh.example.kr',
              clientId: 'hub',
              clientSecret: 's',
              redirectUri: 'https://hub.example.kr/auth/oidc/callback',
            },
            issuer: 'sso',
          },
        },
      },
      'auth.oidc.issuer',
    ],
    [
      {
        name: 'a',
        auth: {
          oidc: {
            ...{
              issuer: 'https://sso.cnuh.example.kr',
              clientId: 'hub',
              clientSecret: 's',
              redirectUri: 'https://hub.example.kr/auth/oidc/callback',
            },
            clientSecret: '',
          },
        },
      },
      'auth.oidc.clientSecret',
    ],
    [
      {
        name: 'a',
        auth: {
          oidc: {
            ...{
              issuer: 'https://sso.cnuh.example.kr',
              clientId: 'hub',
              clientSecret: 's',
              redirectUri: 'https://hub.example.kr/auth/oidc/callback',
            },
            defaultRole: 'admin',
          },
        },
      },
      'auth.oidc.defaultRole',
    ],
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
