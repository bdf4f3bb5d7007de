export * from './schema.js';
export { DEFAULT_CONFIG, deepFreeze } from './defaults.js';
export { loadConfig, parseConfig } from './load.js';
export type { LoadConfigOptions, ParseConfigOptions } from './load.js';
