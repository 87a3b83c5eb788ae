import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console is served by each hub at `/` from web/dist (src/server/console-assets.ts). Relative asset URLs keep
// it working behind a proxy that mounts the hub under a path. No plugin: Vite's own JSX transform targets Preact.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
});
