// Lint for every TypeScript file we write: typescript-eslint's recommended rules. Import cycles
// are checked by madge in scripts/lint.sh (it sees type-only imports too).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['build/', 'dist/', 'node_modules/', '.cache/', 'device-carry/', 'ui/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
