export * from './errors.js';
export * from './ip.js';
export * from './packet.js';
