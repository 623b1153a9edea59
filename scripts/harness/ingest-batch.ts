import type { IngestBatch } from '@vigil/cloud-hub';

/** An ingest batch holding just the given messages, received now (for committing test data directly). */
export function ingestBatch(parts: Partial<IngestBatch>): IngestBatch {
  return {
    results: [],
    telemetry: [],
    statuses: [],
    modelReports: [],
    deadLetters: [],
    receivedAt: new Date().toISOString(),
    ...parts,
  };
}
