import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The web app's build: static files in dist/web, served by `scrip serve` from the API's origin
 * (docs/web.md). No inline script or style is emitted (the CSP forbids them), no source maps,
 * no asset inlined as a data: URL. JSX is compiled by Vite's own esbuild (automatic runtime), so
 * no Babel plugin is needed.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  esbuild: { jsx: 'automatic', legalComments: 'none' },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: { strictPort: true },
});
