// Moved to src/api (the HTTP API's /metrics uses it too, and adapters do not import the CLI).
export * from '../api/prometheus-text.js';
