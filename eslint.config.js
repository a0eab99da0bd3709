// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import { localPlugin } from './eslint-rules/no-module-cycles.js';

/** What every file under server/src/modules may not import. */
const moduleImportRules = [
  {
    regex: '^(\\.\\./)+(api|http|gateway|cli)/',
    message:
      'Modules hold the domain below the HTTP layer: never import api/, http/, gateway/ or cli/. Take what you need as a parameter, or keep shared names (cookie names, limits) in the module and let the HTTP layer import them.',
  },
  {
    regex: '^\\.\\./(?!\\.\\.)[^/]+/(?!index\\.ts$)',
    message:
      "Reach another module only through its index.ts: its other files are internals that may change. Import the name from the module's index (export it there if it is meant to be public).",
  },
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      'bench/results/**',
      'data/**',
      '.tmp/**',
      'web/**',
      'eslint.config.js',
      'eslint-rules/**',
    ],
  },
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
  // SQL lives in repositories (ARCHITECTURE.md, "Import rules"). This block repeats the process.env rule because a
  // later `no-restricted-syntax` replaces the earlier one's selectors rather than adding to them.
  {
    files: ['server/src/**/*.ts'],
    ignores: ['server/src/**/*-repository.ts', 'server/src/db/**', 'server/src/modules/shared/list-query.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message:
            'Read configuration through server/src/config (parsed once, injected); only config/ and entry points read process.env.',
        },
        {
          selector:
            'CallExpression > MemberExpression.callee[property.name=/^(selectFrom|insertInto|updateTable|deleteFrom|selectNoFrom)$/]',
          message:
            'SQL lives in repositories: build queries only in a *-repository.ts file (or db/ for maintenance) and call a repository method here. Services may open a transaction() as a unit of work and hand it to repositories.',
        },
        {
          selector: "TaggedTemplateExpression[tag.name='sql'], CallExpression[callee.object.name='sql']",
          message:
            'SQL lives in repositories: raw sql belongs in a *-repository.ts file, db/ (maintenance, pings) or the shared list-query helpers, not in services, routes or hooks.',
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
  // Boundaries between parts of the server (ARCHITECTURE.md, "Import rules").
  {
    files: ['server/src/**/*.ts'],
    plugins: { local: localPlugin },
    rules: { 'local/no-module-cycles': 'error' },
  },
  {
    files: ['server/src/modules/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...moduleImportRules] }],
    },
  },
  {
    files: ['server/src/modules/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...moduleImportRules,
            {
              regex: '^\\.\\./(?!\\.\\.)',
              message:
                'modules/shared is the bottom of the module graph: it imports no other module, so every module can use it without a cycle.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['server/src/api/**', 'server/src/http/**', 'server/src/cli/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)modules/[^/]+/(?!index\\.ts$)',
              message:
                "api/, http/ and cli/ reach a module only through its index.ts, its public surface: import the name from there (export it there if it is meant to be public), never from the module's internals.",
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
