import type Database from 'better-sqlite3';
import { DurableSqlite } from '../sqlite/durable-sqlite.js';

/**
 * A local, durable FIFO of line-protocol lines waiting for InfluxDB. The hub acknowledges a
 * message once its points are here, so an InfluxDB outage delays history but never loses it.
 */
export class DurableLineBuffer {
  private readonly store: DurableSqlite;
  private readonly db: Database.Database;
  private readonly s;
  private count: number;

  constructor(path: string) {
    this.store = new DurableSqlite(path);
    this.db = this.store.db;
    this.db.exec('CREATE TABLE IF NOT EXISTS pending_lines (seq INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL)');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS rejected_lines (seq INTEGER PRIMARY KEY, line TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL)',
    );
    this.s = {
      push: this.db.prepare('INSERT INTO pending_lines (line) VALUES (?)'),
      head: this.db.prepare('SELECT seq, line FROM pending_lines ORDER BY seq LIMIT ?'),
      dropUpTo: this.db.prepare('DELETE FROM pending_lines WHERE seq <= ?'),
      reject: this.db.prepare('INSERT OR REPLACE INTO rejected_lines (seq, line, reason, at) VALUES (?, ?, ?, ?)'),
      count: this.db.prepare('SELECT COUNT(*) AS n FROM pending_lines'),
      rejectedCount: this.db.prepare('SELECT COUNT(*) AS n FROM rejected_lines'),
    };
    this.count = (this.s.count.get() as { n: number }).n;
  }

  /** Resolves once the lines are on stable storage. */
  async push(lines: readonly string[]): Promise<void> {
    this.db.transaction(() => {
      for (const line of lines) this.s.push.run(line);
    })();
    this.count += lines.length;
    await this.store.durable();
  }

  head(limit: number): { lastSeq: number; lines: string[]; seqs: number[] } {
    const rows = this.s.head.all(limit) as { seq: number; line: string }[];
    return { lastSeq: rows.at(-1)?.seq ?? 0, lines: rows.map((r) => r.line), seqs: rows.map((r) => r.seq) };
  }

  /** Removes everything up to and including `seq` (a batch InfluxDB accepted). */
  confirm(seq: number, n: number): void {
    this.s.dropUpTo.run(seq);
    this.count = Math.max(0, this.count - n);
  }

  /** Copies lines InfluxDB refused as malformed aside; `confirm` later drops them from the queue. */
  setAside(seqs: readonly number[], lines: readonly string[], reason: string): void {
    const at = new Date().toISOString();
    this.db.transaction(() => {
      for (const [i, seq] of seqs.entries()) this.s.reject.run(seq, lines[i], reason, at);
    })();
  }

  size(): number {
    return this.count;
  }

  rejectedCount(): number {
    return (this.s.rejectedCount.get() as { n: number }).n;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
