import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type AtRest, PLAINTEXT } from '../at-rest/at-rest-cipher.js';
import type { ReportedImage } from './measurement-report.js';

/**
 * The clinic-side queue of results for the PACS, in the edge's own SQLite file (`pacs.sqlite`,
 * synchronous=FULL: these rows hold the patient's identity and must survive a power cut): the
 * analysed images of each study waiting for its SR (sealed when encryption at rest is on), the SRs
 * built, each study's build failures, and each object's delivery to each destination with its
 * attempts and last error. Nothing here ever goes to the hub.
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
  /** The study's pseudonym: the key its images are filed under (and what logs and telemetry name). */
  studyKey: string;
  image: ReportedImage;
}

/** A study whose objects could not be built (`pacs.maxBuildAttempts` in a row): set aside, not retried until a new image. */
export interface SetAsideStudy {
  studyKey: string;
  attempts: number;
  code: string;
  message: string;
}

/** A key for an original UID that holds no UID: the store never writes one in clear. */
const uidKey = (uid: string): string => createHash('sha256').update(uid).digest('hex');

export class PacsStore {
  private readonly db: Database.Database;

  /**
   * `atRest` seals every row that holds identity (each analysed image's entry: the patient's name,
   * ID, accession number and the original UIDs); the rows are keyed by the study's pseudonym and a
   * digest of the image's SOP Instance UID, so no original UID is stored in clear either.
   */
  constructor(
    path: string,
    private readonly atRest: AtRest = PLAINTEXT,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    // Schema 2 (keyed by pseudonyms, entries sealable); schema 1's tables held UIDs in clear and are
    // migrated once, in one transaction.
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS pacs_images (
        image_key TEXT PRIMARY KEY,
        study_key TEXT NOT NULL,
        entry BLOB NOT NULL,
        added_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS pacs_images_study ON pacs_images (study_key);
      CREATE TABLE IF NOT EXISTS pacs_studies (
        study_key TEXT PRIMARY KEY,
        due_at INTEGER NOT NULL,
        built_images INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'open',
        build_attempts INTEGER NOT NULL DEFAULT 0,
        last_error_code TEXT,
        last_error TEXT
      );
      CREATE INDEX IF NOT EXISTS pacs_studies_due ON pacs_studies (due_at);
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
    this.migrateSchema1();
  }

  private migrateSchema1(): void {
    const old = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'study_images'").get();
    if (!old) return;
    this.db.transaction(() => {
      const images = this.db.prepare('SELECT sop_instance_uid, study_key, entry_json, added_at FROM study_images').all() as Row[];
      const insert = this.db.prepare(
        'INSERT OR IGNORE INTO pacs_images (image_key, study_key, entry, added_at) VALUES (?, ?, ?, ?)',
      );
      for (const r of images) {
        const key = uidKey(r.sop_instance_uid as string);
        insert.run(key, r.study_key, this.sealEntry(key, r.entry_json as string), r.added_at);
      }
      this.db.exec(`
        INSERT OR IGNORE INTO pacs_studies (study_key, due_at, built_images, version)
          SELECT study_key, due_at, built_images, version FROM studies;
        DROP TABLE study_images;
        DROP TABLE studies;
      `);
    })();
    // The old rows' pages may still hold the clear text: rewrite the file.
    this.db.exec('VACUUM');
  }

  private sealEntry(imageKey: string, json: string): Buffer {
    return this.atRest.seal(Buffer.from(json, 'utf8'), imageKey);
  }

  private openEntry(imageKey: string, entry: unknown): ReportedImage {
    const bytes = typeof entry === 'string' ? Buffer.from(entry, 'utf8') : (entry as Buffer);
    return JSON.parse(this.atRest.open(bytes, imageKey).toString('utf8')) as ReportedImage;
  }

  /** Files an analysed image under its study and (re)sets the study's build time (a set-aside study is retried). */
  addImage(entry: StudyImage, dueAt: number): void {
    const key = uidKey(entry.image.identity.sopInstanceUid);
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO pacs_images (image_key, study_key, entry, added_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (image_key) DO UPDATE SET entry = excluded.entry`,
        )
        .run(key, entry.studyKey, this.sealEntry(key, JSON.stringify(entry.image)), new Date().toISOString());
      this.db
        .prepare(
          `INSERT INTO pacs_studies (study_key, due_at) VALUES (?, ?)
           ON CONFLICT (study_key) DO UPDATE SET due_at = excluded.due_at, state = 'open', build_attempts = 0`,
        )
        .run(entry.studyKey, dueAt);
    })();
  }

  /** Studies due for their objects: settled, open, with images not yet in their last objects; oldest due first. */
  dueStudies(now: number, limit = 20): { studyKey: string; version: number; attempts: number; images: () => ReportedImage[] }[] {
    const rows = this.db
      .prepare(
        `SELECT s.study_key, s.version, s.built_images, s.build_attempts, count(i.image_key) AS n
         FROM pacs_studies s JOIN pacs_images i ON i.study_key = s.study_key
         WHERE s.due_at <= ? AND s.state = 'open' GROUP BY s.study_key HAVING n > s.built_images ORDER BY s.due_at LIMIT ?`,
      )
      .all(now, limit) as Row[];
    return rows.map((r) => ({
      studyKey: r.study_key as string,
      version: Number(r.version),
      attempts: Number(r.build_attempts),
      // Read when built, inside the build's error handling: an entry that cannot be opened is that
      // study's failure, not the round's.
      images: () =>
        (
          this.db
            .prepare('SELECT image_key, entry FROM pacs_images WHERE study_key = ? ORDER BY added_at, image_key')
            .all(r.study_key) as Row[]
        ).map((i) => this.openEntry(i.image_key as string, i.entry)),
    }));
  }

  /**
   * A failed build: retried at `nextAt`, or set aside (state 'failed', out of the due index) once
   * `giveUp`; a later image of the study reopens it. The message must hold no identity.
   */
  buildFailed(studyKey: string, o: { code: string; message: string; nextAt: number; giveUp: boolean }): void {
    this.db
      .prepare(
        `UPDATE pacs_studies SET build_attempts = build_attempts + 1, last_error_code = ?, last_error = ?,
           due_at = ?, state = ? WHERE study_key = ?`,
      )
      .run(o.code, o.message.slice(0, 500), o.giveUp ? NOT_DUE : o.nextAt, o.giveUp ? 'failed' : 'open', studyKey);
  }

  /** Studies set aside because their objects could not be built. */
  setAside(): SetAsideStudy[] {
    return (
      this.db
        .prepare("SELECT study_key, build_attempts, last_error_code, last_error FROM pacs_studies WHERE state = 'failed'")
        .all() as Row[]
    ).map((r) => ({
      studyKey: r.study_key as string,
      attempts: Number(r.build_attempts),
      code: r.last_error_code as string,
      message: r.last_error as string,
    }));
  }

  /** Records a study's built objects (SR, presentation state) and queues each for every destination, in one transaction. */
  queueObjects(o: {
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
          `UPDATE pacs_studies SET built_images = ?, version = ?, build_attempts = 0, last_error_code = NULL, last_error = NULL,
             due_at = CASE WHEN (SELECT count(*) FROM pacs_images WHERE study_key = ?) > ? THEN due_at ELSE ? END
           WHERE study_key = ?`,
        )
        .run(o.images, o.version, o.studyKey, o.images, NOT_DUE, o.studyKey);
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
