// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'bench/results/**', 'data/**', '.tmp/**', 'web/**', 'eslint.config.js'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // Fastify hooks and handlers are async by contract even when they do not await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message:
            'Read configuration through server/src/config (parsed once, injected); only config/ and entry points read process.env.',
        },
      ],
    },
  },
  {
    files: [
      'server/src/config/**',
      'server/bin/**',
      'bench/**',
      '**/*.test.ts',
      'server/test/**',
      'mock-upstream/src/main.ts',
    ],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['server/src/providers/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/db/**', '**/modules/**', '**/gateway/**', '**/http/**', 'kysely', 'pg'],
              message:
                'Providers only know their wire format: import from providers/spec and lib, never the database, tenancy, billing or the gateway.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['server/src/gateway/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/modules/*/*', '!**/modules/*/index.ts'],
              message: 'The gateway reads modules through their index (narrow ports), never their internals.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'server/test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
