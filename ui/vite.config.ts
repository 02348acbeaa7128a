import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vite';

// The browser app: built into dist/ui, which the daemon serves.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
  logLevel: 'warn',
});
