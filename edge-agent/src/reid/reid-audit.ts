import type { Logger } from '@vigil/shared';
import Database from 'better-sqlite3';
import type { DeviceHttp } from '../identity/device-http.js';

export interface ReidEvent {
  eventId: string;
  /** What was asked for: names for pseudonyms, or a study's images (absent: names, as before). */
  kind?: 'names' | 'images';
  username: string;
  role: string;
  /** The pseudonyms resolved (never the names). */
  patientKeys: string[];
  outcome: 'resolved' | 'refused';
  reason?: 'token' | 'clinic';
  /**
   * The hub-signed token the browser showed (its lifetime is minutes): the hub takes who asked
   * from it, never from `username`, and drops it from here once the event is reported.
   */
  token?: string;
}

/**
 * The edge's log of re-identifications (who asked for which pseudonyms, answered or refused), kept
 * locally and reported to the hub's audit log over HTTPS with the device's credentials; an event is
 * kept until the hub took it, so an unreachable hub delays the report but loses nothing.
 */
export class ReidAuditLog {
  private readonly db: Database.Database;
  private timer: NodeJS.Timeout | undefined;
  private reporting: Promise<void> | undefined;

  constructor(
    path: string,
    private readonly o: { hubUrl: string; http: DeviceHttp; logger: Logger; intervalMs?: number },
  ) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS reid_events (
      event_id TEXT PRIMARY KEY, at TEXT NOT NULL, username TEXT NOT NULL, role TEXT NOT NULL,
      patient_keys_json TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT, reported_at TEXT)`);
    const columns = (this.db.prepare('PRAGMA table_info(reid_events)').all() as { name: string }[]).map((c) => c.name);
    if (!columns.includes('token')) this.db.exec('ALTER TABLE reid_events ADD COLUMN token TEXT');
    if (!columns.includes('kind')) this.db.exec('ALTER TABLE reid_events ADD COLUMN kind TEXT');
  }

  record(e: ReidEvent): void {
    this.db
      .prepare(
        'INSERT INTO reid_events (event_id, at, username, role, patient_keys_json, outcome, reason, token, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        e.eventId,
        new Date().toISOString(),
        e.username,
        e.role,
        JSON.stringify(e.patientKeys),
        e.outcome,
        e.reason ?? null,
        e.token ?? null,
        e.kind ?? null,
      );
    this.kick();
  }

  /** Events not yet reported, oldest first, at most one report's worth (the hub takes 20 per report). */
  unreported(limit = 20): (ReidEvent & { at: string })[] {
    return (
      this.db.prepare('SELECT * FROM reid_events WHERE reported_at IS NULL ORDER BY at LIMIT ?').all(limit) as Record<
        string,
        string | null
      >[]
    ).map((r) => ({
      eventId: r.event_id as string,
      at: r.at as string,
      username: r.username as string,
      role: r.role as string,
      patientKeys: JSON.parse(r.patient_keys_json as string) as string[],
      outcome: r.outcome as ReidEvent['outcome'],
      ...(r.reason ? { reason: r.reason as ReidEvent['reason'] } : {}),
      ...(r.token ? { token: r.token } : {}),
      ...(r.kind ? { kind: r.kind as ReidEvent['kind'] } : {}),
    }));
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.o.intervalMs ?? 5000);
    this.timer.unref();
  }

  private kick(): void {
    if (this.reporting || !this.o.hubUrl) return;
    this.reporting = this.report()
      .catch((error: Error) =>
        this.o.logger.warn({ err: error.message }, 're-identification report to the hub failed; kept for later'),
      )
      .finally(() => {
        this.reporting = undefined;
      });
  }

  private async report(): Promise<void> {
    for (;;) {
      const events = this.unreported();
      if (events.length === 0) return;
      await this.reportBatch(events);
    }
  }

  private async reportBatch(events: (ReidEvent & { at: string })[]): Promise<void> {
    const response = await this.o.http.fetch(`${this.o.hubUrl.replace(/\/$/, '')}/api/v1/device/reidentifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    if (!response.ok) throw new Error(`the hub answered HTTP ${response.status}`);
    const mark = this.db.prepare('UPDATE reid_events SET reported_at = ?, token = NULL WHERE event_id = ?');
    const at = new Date().toISOString();
    this.db.transaction(() => {
      for (const e of events) mark.run(at, e.eventId);
    })();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.reporting;
    this.db.close();
  }
}
