import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', '.tap/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The dashboard's browser script: a plain script with uPlot loaded before it.
    files: ['src/http/dashboard/public/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { document: 'readonly', console: 'readonly', uPlot: 'readonly' } },
  },
  {
    // process.env is read in one place only: the config module (and scripts that provision things).
    files: ['src/**/*.ts'],
    ignores: ['src/config/**', 'src/emulator/cli.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration through src/config.' }],
    },
  },
);
