import type { ModelReportedMessage, ResultMessage, StatusMessage, TelemetryMessage } from '@vigil/shared';

export interface DeadLetter {
  receivedAt: string;
  topic: string;
  clientId: string;
  code: string;
  reason: string;
  payloadBytes: number;
  payloadSha256: string;
  /** At most the first 4 KiB, for diagnosis; the full payload is never kept (it may be hostile). */
  payloadExcerpt: Buffer;
}

/** One flush of the ingest pipeline, committed atomically. */
export interface IngestBatch {
  results: ResultMessage[];
  telemetry: TelemetryMessage[];
  statuses: StatusMessage[];
  modelReports: ModelReportedMessage[];
  deadLetters: DeadLetter[];
  receivedAt: string;
}

export interface IngestCommitSummary {
  resultsInserted: number;
  resultsDuplicate: number;
}

/** Where ingest commits its batches (atomically) and what it refused. */
export interface IngestStore {
  commitIngest(batch: IngestBatch): Promise<IngestCommitSummary>;
  listDeadLetters(limit: number): Promise<DeadLetter[]>;
}
