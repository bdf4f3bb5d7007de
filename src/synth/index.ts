export { Sfc32, ZipfSampler, harmonicNumber } from './prng.js';
export {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_TRAFFIC_CONFIG,
  GENERATOR_VERSION,
  MIN_SNAPLEN,
  TrafficGenerator,
  defaultFlowCount,
  resolveTrafficConfig,
} from './traffic-generator.js';
export type { TrafficConfig, TrafficOptions, TruthSummary } from './traffic-generator.js';
export { writeSyntheticCapture, type CaptureFiles, type CaptureResult } from './capture-files.js';
