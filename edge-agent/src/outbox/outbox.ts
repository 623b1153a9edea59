import { EventEmitter } from 'node:events';
import { type Logger, type TopicKind, VigilError } from '@vigil/shared';
import Database from 'better-sqlite3';
import { type AtRest, PLAINTEXT, sealedKeyId } from '../at-rest/at-rest-cipher.js';

export interface OutboxMessage {
  messageId: string;
  kind: TopicKind;
  topic: string;
  payload: Buffer;
  retain?: boolean;
}

export interface StoredMessage extends OutboxMessage {
  seq: number;
  createdAt: number;
  bytes: number;
}

export interface OutboxStats {
  depth: number;
  results: number;
  telemetry: number;
  bytes: number;
  oldestAgeS: number;
  evictedTelemetry: number;
}

export interface OutboxOptions {
  path: string;
  /** Upper bound on stored payload bytes; telemetry is evicted oldest-first to stay under it. */
  maxBytes: number;
  logger?: Logger;
  /** Acknowledged rows are deleted in batches; a crash before the batch replays them (the hub dedupes). */
  ackFlushMs?: number;
  /**
   * Hard cap on the database file (SQLite max_page_count): past it a write fails as if the disk
   * were full, so the outbox can never fill the disk that the spool also needs.
   */
  maxFileBytes?: number;
  now?: () => number;
  /** Payloads encrypted at rest (the message id is bound to each as associated data). */
  atRest?: AtRest;
}

const EVICTABLE: TopicKind = 'telemetry';

function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR';
}

/**
 * Durable store-and-forward queue. A message is committed (WAL, synchronous=FULL) before anyone may
 * publish it and deleted only after the broker acknowledged it, so kill -9 or power loss at any point
 * loses nothing; at worst an acknowledged message is sent again and the hub recognises its id.
 */
export class Outbox extends EventEmitter<{ enqueued: []; evicted: [count: number] }> {
  private readonly db: Database.Database;
  private readonly maxBytes: number;
  private readonly now: () => number;
  private readonly logger: Logger | undefined;
  private readonly pendingAcks = new Set<number>();
  private maxPendingAck = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  private readonly ackFlushMs: number;
  private totalBytes = 0;
  private evictedTelemetry = 0;
  private readonly stmts;

  private readonly atRest: AtRest;

  constructor(options: OutboxOptions) {
    super();
    this.maxBytes = options.maxBytes;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.ackFlushMs = options.ackFlushMs ?? 20;
    this.atRest = options.atRest ?? PLAINTEXT;
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    if (options.maxFileBytes) {
      const pageSize = this.db.pragma('page_size', { simple: true }) as number;
      this.db.pragma(`max_page_count = ${Math.max(16, Math.floor(options.maxFileBytes / pageSize))}`);
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        bytes INTEGER NOT NULL,
        retain INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS outbox_kind_seq ON outbox (kind, seq);
      CREATE TABLE IF NOT EXISTS outbox_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    this.stmts = {
      insert: this.db.prepare(
        'INSERT OR IGNORE INTO outbox (message_id, kind, topic, payload, bytes, retain, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      after: this.db.prepare('SELECT * FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      delete: this.db.prepare('DELETE FROM outbox WHERE seq = ?'),
      oldestEvictable: this.db.prepare('SELECT seq, bytes FROM outbox WHERE kind = ? ORDER BY seq LIMIT ?'),
      counts: this.db.prepare(
        'SELECT kind, COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes, MIN(created_at) AS oldest FROM outbox GROUP BY kind',
      ),
      getCounter: this.db.prepare('SELECT value FROM outbox_counters WHERE name = ?'),
      setCounter: this.db.prepare(
        'INSERT INTO outbox_counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value',
      ),
    };
    for (const row of this.stmts.counts.all() as { bytes: number }[]) this.totalBytes += row.bytes;
    this.evictedTelemetry = (this.stmts.getCounter.get('evicted_telemetry') as { value: number } | undefined)?.value ?? 0;
  }

  /** Records per key id that wrote them ('plaintext' for unencrypted ones): what a retired key still opens. */
  keyInventory(): Map<string, number> {
    const out = new Map<string, number>();
    const rows = this.db.prepare('SELECT substr(payload, 1, 12) AS head, COUNT(*) AS n FROM outbox GROUP BY head').all() as {
      head: Buffer;
      n: number;
    }[];
    for (const row of rows) {
      const id = sealedKeyId(Buffer.from(row.head)) ?? 'plaintext';
      out.set(id, (out.get(id) ?? 0) + row.n);
    }
    return out;
  }

  /**
   * Commits a message. Returns false when a message with the same id is already queued. Throws
   * VIGIL_OUTBOX_FULL when only results fill the byte budget, VIGIL_OUTBOX_DISK_FULL when the disk is.
   */
  enqueue(message: OutboxMessage): boolean {
    const bytes = message.payload.byteLength;
    const insert = this.db.transaction(() => {
      this.makeRoom(bytes, message.kind);
      const info = this.stmts.insert.run(
        message.messageId,
        message.kind,
        message.topic,
        this.atRest.seal(message.payload, message.messageId),
        bytes,
        message.retain ? 1 : 0,
        this.now(),
      );
      return info.changes === 1;
    });
    let inserted: boolean;
    try {
      inserted = insert();
    } catch (error) {
      if (error instanceof VigilError) throw error;
      if (isDiskFull(error)) {
        // Free space by dropping the oldest telemetry, then try once more: results are never dropped.
        if (message.kind !== EVICTABLE && this.evict(64) > 0) return this.enqueue(message);
        throw new VigilError('VIGIL_OUTBOX_DISK_FULL', `disk full while committing ${message.kind} ${message.messageId}`, {
          cause: error,
        });
      }
      throw error;
    }
    if (inserted) {
      this.totalBytes += bytes;
      this.emit('enqueued');
    }
    return inserted;
  }

  /** Commits several messages in one transaction (one fsync); returns how many were new. */
  enqueueMany(messages: readonly OutboxMessage[]): number {
    let inserted = 0;
    this.db.transaction(() => {
      for (const m of messages) {
        this.makeRoom(m.payload.byteLength, m.kind);
        const info = this.stmts.insert.run(
          m.messageId,
          m.kind,
          m.topic,
          this.atRest.seal(m.payload, m.messageId),
          m.payload.byteLength,
          m.retain ? 1 : 0,
          this.now(),
        );
        if (info.changes === 1) {
          inserted += 1;
          this.totalBytes += m.payload.byteLength;
        }
      }
    })();
    if (inserted > 0) this.emit('enqueued');
    return inserted;
  }

  private makeRoom(bytes: number, kind: TopicKind): void {
    if (this.totalBytes + bytes <= this.maxBytes) return;
    while (this.totalBytes + bytes > this.maxBytes) {
      if (this.evict(64, bytes) === 0) break;
    }
    if (this.totalBytes + bytes <= this.maxBytes) return;
    if (kind === EVICTABLE) {
      // No room even with all telemetry gone: this sample is the one that gives way.
      this.bumpEvicted(1);
      throw new VigilError('VIGIL_OUTBOX_FULL', 'outbox full of results; telemetry sample dropped');
    }
    throw new VigilError(
      'VIGIL_OUTBOX_FULL',
      `outbox holds ${this.totalBytes} of ${this.maxBytes} bytes in results; refusing a new ${kind} until the hub is reachable`,
    );
  }

  /** Deletes up to `limit` of the oldest telemetry rows (enough to free `needBytes` if given). */
  private evict(limit: number, needBytes = Number.POSITIVE_INFINITY): number {
    const rows = this.stmts.oldestEvictable.all(EVICTABLE, limit) as { seq: number; bytes: number }[];
    let evicted = 0;
    for (const row of rows) {
      if (Number.isFinite(needBytes) && this.totalBytes + needBytes <= this.maxBytes) break;
      this.stmts.delete.run(row.seq);
      // An acknowledged row awaiting its batched delete was already taken off the byte count.
      if (this.pendingAcks.delete(row.seq)) continue;
      this.totalBytes -= row.bytes;
      evicted += 1;
    }
    if (evicted > 0) {
      this.bumpEvicted(evicted);
      this.logger?.warn({ code: 'VIGIL_OUTBOX_FULL', evicted }, 'evicted oldest telemetry to make room');
      this.emit('evicted', evicted);
    }
    return evicted;
  }

  private bumpEvicted(n: number): void {
    this.evictedTelemetry += n;
    this.stmts.setCounter.run('evicted_telemetry', this.evictedTelemetry);
  }

  /** Oldest messages after `seq`, for the publisher's cursor. */
  after(seq: number, limit: number): StoredMessage[] {
    // Acknowledged rows awaiting their batched delete are skipped, so ask for that many more
    // (only when the cursor was rewound behind them; in steady state they all lie behind it).
    const extra = seq < this.maxPendingAck ? this.pendingAcks.size : 0;
    const rows = this.stmts.after.all(seq, limit + extra) as {
      seq: number;
      message_id: string;
      kind: TopicKind;
      topic: string;
      payload: Buffer;
      bytes: number;
      retain: number;
      created_at: number;
    }[];
    return rows
      .filter((row) => !this.pendingAcks.has(row.seq))
      .slice(0, limit)
      .map((row) => ({
        seq: row.seq,
        messageId: row.message_id,
        kind: row.kind,
        topic: row.topic,
        payload: this.atRest.open(row.payload, row.message_id),
        bytes: row.bytes,
        retain: row.retain === 1,
        createdAt: row.created_at,
      }));
  }

  /** Marks a message acknowledged by the broker; the row is deleted in the next batch. */
  ack(seq: number, bytes: number): void {
    if (this.pendingAcks.has(seq)) return;
    this.pendingAcks.add(seq);
    this.maxPendingAck = Math.max(this.maxPendingAck, seq);
    this.totalBytes -= bytes;
    this.ackTimer ??= setTimeout(() => this.flushAcks(), this.ackFlushMs);
  }

  flushAcks(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (this.pendingAcks.size === 0) return;
    const seqs = [...this.pendingAcks];
    this.db.transaction(() => {
      for (const seq of seqs) this.stmts.delete.run(seq);
    })();
    for (const seq of seqs) this.pendingAcks.delete(seq);
    this.maxPendingAck = 0;
  }

  stats(): OutboxStats {
    const rows = this.stmts.counts.all() as { kind: string; n: number; oldest: number | null }[];
    let depth = 0;
    let results = 0;
    let telemetry = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (const row of rows) {
      depth += row.n;
      if (row.kind === 'results') results = row.n;
      if (row.kind === 'telemetry') telemetry = row.n;
      if (row.oldest !== null) oldest = Math.min(oldest, row.oldest);
    }
    const pending = this.pendingAcks.size;
    return {
      depth: Math.max(0, depth - pending),
      results,
      telemetry,
      bytes: Math.max(0, this.totalBytes),
      oldestAgeS: Number.isFinite(oldest) ? Math.max(0, (this.now() - oldest) / 1000) : 0,
      evictedTelemetry: this.evictedTelemetry,
    };
  }

  close(): void {
    this.flushAcks();
    this.db.close();
  }
}
