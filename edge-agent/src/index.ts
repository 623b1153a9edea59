export * from './config.js';
export * from './edge-agent.js';
export * from './outbox/outbox.js';
export * from './publish/mqtt-publisher.js';
export * from './telemetry/pipeline-counters.js';
export * from './telemetry/system-probe.js';
export * from './telemetry/telemetry-sampler.js';
export * from './version.js';
