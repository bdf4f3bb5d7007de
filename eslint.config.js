// Type-aware lint with zero warnings, plus the dependency-direction rule of docs/internals.md:
// core folders never import adapters, sockets or native bindings.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const CORE_FORBIDDEN_NODE = ['node:net', 'node:tls', 'node:http', 'node:https', 'node:dgram', 'node:child_process'];

/** Build a no-restricted-imports rule that forbids importing the given project folders. */
function forbid(folders, extraPaths = [], extraPatterns = []) {
  return [
    'error',
    {
      paths: extraPaths.map((name) => ({ name, message: 'core code must not touch I/O adapters (see docs/internals.md)' })),
      patterns: [
        ...folders.map((folder) => ({
          group: [`**/${folder}/*`, `**/${folder}`],
          message: `dependencies point inward: this folder must not import src/${folder} (see docs/internals.md)`,
        })),
        ...extraPatterns,
      ],
    },
  ];
}

const ADAPTERS = ['capture', 'bus', 'store', 'api', 'ai', 'cli'];
const ADAPTER_LIBS = [{ group: ['nats', '@nats-io/*', '@clickhouse/*', '@duckdb/*', 'fastify', 'thrift'], message: 'adapters only' }];

export default tseslint.config(
  { ignores: ['dist/**', '.build-*/**', 'node_modules/**', 'samples/**', 'src/wire/gen/**', 'web/dist/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // node:test's test()/describe() return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      // Port methods (start/stop/write) are async by contract even where an implementation has
      // nothing to await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['src/model/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid(
        ['config', 'decode', 'engine', 'query', 'alerting', 'wire', ...ADAPTERS],
        ['node:fs', 'node:fs/promises', ...CORE_FORBIDDEN_NODE],
        ADAPTER_LIBS,
      ),
    },
  },
  {
    // The wire codecs are pure, over Uint8Array, like decode: model only. The generated Thrift code
    // in src/wire/gen (ignored above) is what imports the thrift library.
    files: ['src/wire/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid(
        ['config', 'decode', 'engine', 'synth', 'query', 'alerting', ...ADAPTERS],
        ['node:fs', 'node:fs/promises', ...CORE_FORBIDDEN_NODE],
        ADAPTER_LIBS,
      ),
    },
  },
  {
    files: ['src/decode/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid(['config', 'engine', 'query', 'alerting', ...ADAPTERS], ['node:fs', 'node:fs/promises', ...CORE_FORBIDDEN_NODE], ADAPTER_LIBS),
    },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: { 'no-restricted-imports': forbid(ADAPTERS, CORE_FORBIDDEN_NODE, ADAPTER_LIBS) },
  },
  {
    // The query service is defined over the ports of src/model alone, so any store (or a test's)
    // can serve it. src/query is flat: every `../` import leaves the folder, and only `../model/`
    // may; this also covers folders added later.
    files: ['src/query/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid([], CORE_FORBIDDEN_NODE, [
        ...ADAPTER_LIBS,
        { regex: '^\\.\\./(?!model/)', message: 'src/query imports only src/model (see docs/internals.md)' },
      ]),
    },
  },
  {
    // Flow keys, hashing and ranking live in src/model, so the alerter needs nothing of the engine.
    files: ['src/alerting/**/*.ts'],
    rules: { 'no-restricted-imports': forbid(['engine', ...ADAPTERS], CORE_FORBIDDEN_NODE, ADAPTER_LIBS) },
  },
  {
    // The notifiers are the alerting core's own adapter: the email notifier adds a CA to Node's
    // root list (node:tls). Sockets stay with fetch and nodemailer.
    files: ['src/alerting/notifiers/**/*.ts'],
    rules: { 'no-restricted-imports': forbid(['engine', ...ADAPTERS], CORE_FORBIDDEN_NODE.filter((m) => m !== 'node:tls'), ADAPTER_LIBS) },
  },
  {
    files: ['src/config/**/*.ts'],
    rules: { 'no-restricted-imports': forbid(['decode', 'engine', 'query', 'alerting', ...ADAPTERS], CORE_FORBIDDEN_NODE, ADAPTER_LIBS) },
  },
  {
    // The AI service is an adapter beside the others: it uses the core (the built-in analyst of
    // src/alerting, the Thrift code of src/wire), never another adapter or the CLI.
    files: ['src/ai/**/*.ts'],
    rules: { 'no-restricted-imports': forbid(['cli', 'api', 'store', 'bus', 'capture']) },
  },
  {
    // What these adapters share with the engine (flow keys, hashing) is in src/model.
    files: ['src/store/**/*.ts', 'src/capture/**/*.ts', 'src/bus/**/*.ts'],
    rules: { 'no-restricted-imports': forbid(['engine', 'cli', 'api', 'ai']) },
  },
  {
    // The application layer: sources, engine and sinks assembled; the commands sit on top of it.
    files: ['src/pipeline/**/*.ts'],
    rules: { 'no-restricted-imports': forbid(['cli']) },
  },
  {
    // Benchmarks measure the pipeline and its parts, never through a command's wiring.
    files: ['bench/**/*.ts'],
    rules: { 'no-restricted-imports': forbid(['cli']) },
  },
  {
    // The image's healthcheck script: plain JavaScript run by the image's node, outside the TypeScript project.
    files: ['deploy/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false, project: false, program: null },
      globals: { process: 'readonly', console: 'readonly', fetch: 'readonly', AbortSignal: 'readonly' },
    },
  },
);
