import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ReportedImage } from './measurement-report.js';

/**
 * The clinic-side queue of results for the PACS, in the edge's own SQLite file (`pacs.sqlite`,
 * synchronous=FULL: these rows hold the patient's identity and must survive a power cut): the
 * analysed images of each study waiting for its SR, the SRs built, and each object's delivery to each
 * destination with its attempts and last error. Nothing here ever goes to the hub.
 */
export interface Delivery {
  id: number;
  destination: string;
  sopInstanceUid: string;
  sopClassUid: string;
  studyKey: string;
  path: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  refusals: number;
  nextAt: number;
  lastErrorCode: string | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface DestinationCounts {
  destination: string;
  pending: number;
  delivered: number;
  failed: number;
  lastError: { code: string; message: string; at: string } | null;
  lastDeliveredAt: string | null;
}

type Row = Record<string, unknown>;

/** The due time of a study whose objects are built (beyond any clock). */
const NOT_DUE = Number.MAX_SAFE_INTEGER;

function toDelivery(r: Row): Delivery {
  return {
    id: Number(r.id),
    destination: r.destination as string,
    sopInstanceUid: r.sop_instance_uid as string,
    sopClassUid: r.sop_class_uid as string,
    studyKey: r.study_key as string,
    path: r.path as string,
    state: r.state as Delivery['state'],
    attempts: Number(r.attempts),
    refusals: Number(r.refusals),
    nextAt: Number(r.next_at),
    lastErrorCode: (r.last_error_code as string | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    createdAt: r.created_at as string,
    deliveredAt: (r.delivered_at as string | null) ?? null,
  };
}

export interface StudyImage {
  studyInstanceUid: string;
  /** The study's pseudonym, for logs and telemetry. */
  studyKey: string;
  image: ReportedImage;
}

export class PacsStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS study_images (
        sop_instance_uid TEXT PRIMARY KEY,
        study_instance_uid TEXT NOT NULL,
        study_key TEXT NOT NULL,
        entry_json TEXT NOT NULL,
        added_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS study_images_study ON study_images (study_instance_uid);
      CREATE TABLE IF NOT EXISTS studies (
        study_instance_uid TEXT PRIMARY KEY,
        study_key TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        built_images INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS studies_due ON studies (due_at);
      CREATE TABLE IF NOT EXISTS deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        destination TEXT NOT NULL,
        sop_instance_uid TEXT NOT NULL,
        sop_class_uid TEXT NOT NULL,
        study_key TEXT NOT NULL,
        path TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        refusals INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        last_error_code TEXT,
        last_error TEXT,
        last_attempt_at TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT,
        UNIQUE (destination, sop_instance_uid)
      );
      CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
    `);
  }

  /** Files an analysed image under its study and (re)sets the study's build time. */
  addImage(entry: StudyImage, dueAt: number): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO study_images (sop_instance_uid, study_instance_uid, study_key, entry_json, added_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (sop_instance_uid) DO UPDATE SET entry_json = excluded.entry_json`,
        )
        .run(
          entry.image.identity.sopInstanceUid,
          entry.studyInstanceUid,
          entry.studyKey,
          JSON.stringify(entry.image),
          new Date().toISOString(),
        );
      this.db
        .prepare(
          `INSERT INTO studies (study_instance_uid, study_key, due_at) VALUES (?, ?, ?)
           ON CONFLICT (study_instance_uid) DO UPDATE SET due_at = excluded.due_at`,
        )
        .run(entry.studyInstanceUid, entry.studyKey, dueAt);
    })();
  }

  /** Studies due for an SR: settled, with images not yet in their last SR. */
  dueStudies(
    now: number,
    limit = 20,
  ): { studyInstanceUid: string; studyKey: string; version: number; images: ReportedImage[] }[] {
    const rows = this.db
      .prepare(
        `SELECT s.study_instance_uid, s.study_key, s.version, s.built_images, count(i.sop_instance_uid) AS n
         FROM studies s JOIN study_images i ON i.study_instance_uid = s.study_instance_uid
         WHERE s.due_at <= ? GROUP BY s.study_instance_uid HAVING n > s.built_images ORDER BY s.due_at LIMIT ?`,
      )
      .all(now, limit) as Row[];
    return rows.map((r) => ({
      studyInstanceUid: r.study_instance_uid as string,
      studyKey: r.study_key as string,
      version: Number(r.version),
      images: (
        this.db
          .prepare('SELECT entry_json FROM study_images WHERE study_instance_uid = ? ORDER BY added_at, sop_instance_uid')
          .all(r.study_instance_uid) as Row[]
      ).map((i) => JSON.parse(i.entry_json as string) as ReportedImage),
    }));
  }

  /** Records a study's built objects (SR, presentation state) and queues each for every destination, in one transaction. */
  queueObjects(o: {
    studyInstanceUid: string;
    studyKey: string;
    version: number;
    images: number;
    objects: readonly { sopInstanceUid: string; sopClassUid: string; path: string }[];
    destinations: readonly string[];
  }): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      const insert = this.db.prepare(
        `INSERT INTO deliveries (destination, sop_instance_uid, sop_class_uid, study_key, path, state, next_at, created_at)
         VALUES (?, ?, ?, ?, ?, 'pending', 0, ?) ON CONFLICT (destination, sop_instance_uid) DO NOTHING`,
      );
      for (const object of o.objects) {
        for (const d of o.destinations) insert.run(d, object.sopInstanceUid, object.sopClassUid, o.studyKey, object.path, now);
      }
      // Built: out of the due index until another image of the study arrives (one that arrived while
      // the objects were being built keeps the study due).
      this.db
        .prepare(
          `UPDATE studies SET built_images = ?, version = ?,
             due_at = CASE WHEN (SELECT count(*) FROM study_images WHERE study_instance_uid = ?) > ? THEN due_at ELSE ? END
           WHERE study_instance_uid = ?`,
        )
        .run(o.images, o.version, o.studyInstanceUid, o.images, NOT_DUE, o.studyInstanceUid);
    })();
  }

  due(now: number, limit = 50): Delivery[] {
    return (
      this.db
        .prepare("SELECT * FROM deliveries WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?")
        .all(now, limit) as Row[]
    ).map(toDelivery);
  }

  delivered(id: number): void {
    this.db
      .prepare(
        "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_attempt_at = ? WHERE id = ?",
      )
      .run(new Date().toISOString(), new Date().toISOString(), id);
  }

  /** A failed attempt: retried at `nextAt`, or given up (`failed`) with the error kept. */
  attemptFailed(id: number, o: { code: string; message: string; refusal: boolean; nextAt: number; giveUp: boolean }): void {
    this.db
      .prepare(
        `UPDATE deliveries SET attempts = attempts + 1, refusals = refusals + ?, next_at = ?, state = ?,
           last_error_code = ?, last_error = ?, last_attempt_at = ? WHERE id = ?`,
      )
      .run(
        o.refusal ? 1 : 0,
        o.nextAt,
        o.giveUp ? 'failed' : 'pending',
        o.code,
        o.message.slice(0, 500),
        new Date().toISOString(),
        id,
      );
  }

  /** Whether every destination has delivered or given up this object (its file can go). */
  finished(path: string): boolean {
    const row = this.db.prepare("SELECT count(*) AS n FROM deliveries WHERE path = ? AND state = 'pending'").get(path) as {
      n: number;
    };
    return row.n === 0;
  }

  counts(destinations: readonly string[]): DestinationCounts[] {
    return destinations.map((destination) => {
      const c = this.db
        .prepare(
          `SELECT sum(state = 'pending') AS pending, sum(state = 'delivered') AS delivered, sum(state = 'failed') AS failed,
             max(delivered_at) AS last_delivered FROM deliveries WHERE destination = ?`,
        )
        .get(destination) as Row;
      const err = this.db
        .prepare(
          `SELECT last_error_code, last_error, last_attempt_at FROM deliveries
           WHERE destination = ? AND last_error_code IS NOT NULL AND state != 'delivered' ORDER BY last_attempt_at DESC LIMIT 1`,
        )
        .get(destination) as Row | undefined;
      return {
        destination,
        pending: Number(c.pending ?? 0),
        delivered: Number(c.delivered ?? 0),
        failed: Number(c.failed ?? 0),
        lastError: err
          ? { code: err.last_error_code as string, message: err.last_error as string, at: err.last_attempt_at as string }
          : null,
        lastDeliveredAt: (c.last_delivered as string | null) ?? null,
      };
    });
  }

  all(): Delivery[] {
    return (this.db.prepare('SELECT * FROM deliveries ORDER BY id').all() as Row[]).map(toDelivery);
  }

  close(): void {
    this.db.close();
  }
}
