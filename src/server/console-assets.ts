import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { HealthmeshError } from '../core/index.js';
import { AssetParams } from './api-schemas.js';

/**
 * Where `vite build` writes the console (web/vite.config.ts): `web/dist` at the project root. The same path from
 * `src/server/` under tsx and from `dist/server/` once built.
 */
export const CONSOLE_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/**
 * The page may load only its own scripts and styles and talk only to its own hub. uPlot and Preact set styles
 * through the style attribute, hence 'unsafe-inline' for styles (never for scripts).
 */
const CONTENT_SECURITY_POLICY =
  // blob: images are the console's own: a figure a steward checks, fetched with the tab's token.
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The console at `/` (its `index.html`) and its hashed bundles at `/assets/*`. These files hold no data (every
 * figure comes from the API with the bearer token), so they are the only routes served without one. The app's
 * hook still audits each request. Without a build, `/` answers 503 `CONSOLE_NOT_BUILT` naming the command to run.
 */
export function consoleAssets(dir: string = CONSOLE_DIST) {
  return async (app: FastifyInstance) => {
    await app.register(fastifyStatic, { root: dir, serve: false });
    const built = () => existsSync(join(dir, 'index.html'));
    const config = { allow: 'public' } as const;
    const asset = { config, schema: { params: AssetParams } };
    app.get('/', { config }, async (req, reply) => {
      req.auditAction = { action: 'console-asset', target: 'console:index.html' };
      if (!built()) {
        throw new HealthmeshError(
          'CONSOLE_NOT_BUILT',
          `the web console is not built in ${dir}: run \`npm run build:web\` (npm install does it too)`,
        );
      }
      return reply
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .sendFile('index.html');
    });
    app.get<{ Params: { '*': string } }>('/assets/*', asset, async (req, reply) => {
      const file = req.params['*'];
      req.auditAction = { action: 'console-asset', target: `console:assets/${file}` };
      // Names carry a content hash (Vite), so a browser may keep them; sendFile refuses paths outside the root.
      return reply
        .header('x-content-type-options', 'nosniff')
        .sendFile(`assets/${file}`, { maxAge: '365d', immutable: true });
    });
  };
}
