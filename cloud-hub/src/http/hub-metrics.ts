import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics for one hub process, on its own registry so tests can run several hubs. */
export class HubMetrics {
  readonly registry = new Registry();
  readonly ingested = new Counter({
    name: 'vigil_ingest_messages_total',
    help: 'Messages received from devices, by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly duplicates = new Counter({
    name: 'vigil_ingest_duplicate_results_total',
    help: 'Results received again after they were already stored (redelivery)',
    registers: [this.registry],
  });
  readonly ingestFailures = new Counter({
    name: 'vigil_ingest_batch_failures_total',
    help: 'Ingest batches that could not be committed (not acknowledged; devices resend)',
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: 'vigil_ingest_batch_commit_seconds',
    help: 'Time to commit one ingest batch to state and history',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'vigil_mqtt_auth_failures_total',
    help: 'Refused device connections',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly aclDenied = new Counter({
    name: 'vigil_mqtt_acl_denied_total',
    help: 'Publishes or subscriptions refused by the topic ACL',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly revocationCheckFailures = new Counter({
    name: 'vigil_revocation_check_failures_total',
    help: 'Revocation checks that could not read the device list (revoked devices stay connected until one succeeds)',
    registers: [this.registry],
  });
  readonly connectedDevices = new Gauge({
    name: 'vigil_mqtt_connected_clients',
    help: 'Clients connected to the embedded broker',
    registers: [this.registry],
  });
  readonly historyPending = new Gauge({
    name: 'vigil_history_pending_points',
    help: 'Points buffered locally, waiting for the history store',
    registers: [this.registry],
  });

  readonly followupPending = new Gauge({
    name: 'vigil_followup_pending_patients',
    help: 'Patients noted for follow-up recomputation that the follow-up worker has not finished',
    registers: [this.registry],
  });
  readonly followupRestarts = new Counter({
    name: 'vigil_followup_worker_restarts_total',
    help: 'Follow-up worker threads that died and were replaced',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'vigil_hub_' });
  }
}
