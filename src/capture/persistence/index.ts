export { DEFAULT_PERSISTENCE_OPTIONS, PacketPersistence, openPersistenceFile } from './packet-persistence.js';
export type { PacketPersistenceOptions, PersistenceStats } from './packet-persistence.js';
export type { OpenPersistenceFile, PersistenceFile } from './file-series.js';
export { PERSISTENCE_FORMATS } from './record-encoders.js';
export type { PersistenceFormat } from './record-encoders.js';
