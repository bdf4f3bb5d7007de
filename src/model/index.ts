export * from './errors.js';
export * from './flow.js';
export * from './ip.js';
export * from './packet.js';
export * from './ports.js';
export * from './snapshot.js';
export * from './time.js';
export * from './alert.js';
