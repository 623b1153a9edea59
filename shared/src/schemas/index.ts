export * from './common.js';
export * from './labels.js';
export * from './model.js';
export * from './receipt.js';
export * from './result.js';
export * from './status.js';
export * from './telemetry.js';
