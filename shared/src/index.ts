export * from './backoff.js';
export * from './config-loader.js';
export * from './errors.js';
export * from './ids.js';
export * from './logger.js';
export * from './message-codec.js';
export * from './schemas/index.js';
export * from './topics.js';
