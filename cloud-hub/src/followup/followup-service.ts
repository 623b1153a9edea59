import { asVigilError, type Logger } from '@vigil/shared';
import type { HubEvents } from '../events/hub-events.js';
import { type ChangePolicy, changeConditions, DEFAULT_CHANGE_POLICY } from './change-alerts.js';
import { attributeConditions } from './evidence.js';
import type { FollowupStore, TimelineSave, TimelineSaveOutcome } from './followup-store.js';
import type { FollowupObservation, PatientTimeline } from './followup-types.js';
import {
  DEFAULT_OVERDUE_POLICY,
  type FollowupDue,
  followupDue,
  type OverduePolicy,
  overdueCondition,
  timelineSummary,
} from './overdue.js';
import { buildPatientTimeline, DEFAULT_TIMELINE_POLICY, type TimelinePolicy } from './timeline.js';

/** How far back the catch-up looks, and how old a result must be before it counts as owed. */
const CATCH_UP_WINDOW_MS = 86_400_000;
const CATCH_UP_GRACE_MS = 60_000;
/** Patients recomputed per transaction. */
const RECOMPUTE_BATCH = 200;
/** How long after a patient's last noted result they are recomputed (half a second covers a study whose images reach the hub over several consumer connections). */
const SETTLE_MS = 500;
/** Retry delays while the state store is unreachable: doubling from the first to the last. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5000;

export interface FollowupPolicy {
  timeline: TimelinePolicy;
  change: ChangePolicy;
  overdue: OverduePolicy;
}

export const DEFAULT_FOLLOWUP_POLICY: FollowupPolicy = {
  timeline: DEFAULT_TIMELINE_POLICY,
  change: DEFAULT_CHANGE_POLICY,
  overdue: DEFAULT_OVERDUE_POLICY,
};

export interface FollowupServiceOptions {
  store: FollowupStore;
  logger: Logger;
  events?: Pick<HubEvents, 'emit'>;
  policy?: FollowupPolicy;
  /** Wall clock, injectable so overdue rules can be tested on any date. */
  today?: () => string;
  /** How often patients are checked for missed follow-ups. */
  sweepIntervalMs?: number;
  /** Whether the periodic sweeps run here (with replicas, only where the sweep lease is held). */
  sweepsEnabled?: boolean;
  /**
   * How often the sweep holder looks for recomputations nobody did (a replica killed between
   * committing results and recomputing their patients): default 30 s.
   */
  catchUpIntervalMs?: number;
}

/** What the hub needs from follow-up, whether it runs in-process or in a worker thread. */
export interface FollowupRunner {
  readonly policy: FollowupPolicy;
  /** Marks patients whose results changed; they are recomputed shortly, in the background. */
  notePatients(patientKeys: Iterable<string>): void;
  /** Resolves when every patient noted before the call has been recomputed. */
  settled(): Promise<void>;
  /**
   * The patient's timeline and next due date, computed from the stored results (a read). With
   * `clinics`, from those clinics' results alone: what a clinic-scoped user may see of a patient is
   * what their clinics' own devices saw, never another clinic's studies.
   */
  timeline(
    patientKey: string,
    clinics?: readonly string[] | null,
  ): Promise<{ timeline: PatientTimeline; due: FollowupDue | null }>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Runs the (pure) follow-up engine whenever a patient's results change, and daily-ish for overdue
 * follow-ups, and stores the outcome. Recomputation is per patient and idempotent: alert keys come
 * from immutable result ids, so replays and restarts never duplicate an alert.
 */
export class FollowupService implements FollowupRunner {
  /** Patients to recompute, oldest note first, each with when it was last noted. */
  private readonly dirty = new Map<string, number>();
  private running: Promise<void> | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private catchUpTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Periodic overdue sweeps run only while this is true (one replica at a time). */
  sweepsEnabled: boolean;
  readonly policy: FollowupPolicy;
  private readonly today: () => string;

  constructor(private readonly o: FollowupServiceOptions) {
    this.policy = o.policy ?? DEFAULT_FOLLOWUP_POLICY;
    this.sweepsEnabled = o.sweepsEnabled ?? true;
    this.today = o.today ?? (() => new Date().toISOString().slice(0, 10));
  }

  start(): void {
    const sweep = () => {
      if (this.sweepsEnabled) void this.sweepOverdue();
    };
    this.sweepTimer = setInterval(sweep, this.o.sweepIntervalMs ?? 3_600_000);
    this.sweepTimer.unref();
    sweep();
    this.catchUpTimer = setInterval(() => {
      if (this.sweepsEnabled) void this.catchUp();
    }, this.o.catchUpIntervalMs ?? 30_000);
    this.catchUpTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.catchUpTimer) clearInterval(this.catchUpTimer);
    await this.settled();
  }

  /** Marks patients whose results changed; they are recomputed shortly, in the background. */
  notePatients(patientKeys: Iterable<string>): void {
    const now = Date.now();
    for (const key of patientKeys) {
      // A patient noted again goes to the back: their study is still arriving.
      this.dirty.delete(key);
      this.dirty.set(key, now);
    }
    this.running ??= this.drain();
  }

  /** Resolves when every noted patient has been recomputed. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    let retryMs = RETRY_FIRST_MS;
    try {
      while (this.dirty.size > 0) {
        // A patient is recomputed once no result of theirs has arrived for SETTLE_MS: a study's
        // images arrive over several ingest batches, and recomputing after each was 1.5
        // recomputations per patient at full ingest (issue 30).
        const settled = Date.now() - SETTLE_MS;
        const [, oldest = settled] = this.dirty.entries().next().value ?? [];
        if (oldest > settled && !this.stopping) {
          await new Promise((resolve) => setTimeout(resolve, oldest - settled));
          continue;
        }
        // Patients are saved in batches: one transaction and one disk flush for many patients.
        const keys: string[] = [];
        for (const [key, noted] of this.dirty) {
          if (keys.length >= RECOMPUTE_BATCH || (noted > settled && !this.stopping)) break;
          keys.push(key);
        }
        for (const key of keys) this.dirty.delete(key);
        const failure = await this.recomputeMany(keys).then(
          () => undefined,
          // Stores code their own failures; anything uncoded is a fault in this code, not an outage.
          (error: unknown) => asVigilError(error, 'VIGIL_INTERNAL'),
        );
        if (!failure) {
          retryMs = RETRY_FIRST_MS;
          continue;
        }
        this.o.logger.error(
          { code: failure.code, patients: keys.length, patientKey: keys[0] },
          `follow-up recomputation failed: ${failure.message}`,
        );
        // An unreachable store (a PostgreSQL outage) is waited out: the patients stay noted and are
        // recomputed when it is back. Any other failure is this batch's own and is not retried.
        if (failure.code !== 'VIGIL_STATE_STORE_UNAVAILABLE' || this.stopping) continue;
        for (const key of keys) if (!this.dirty.has(key)) this.dirty.set(key, 0);
        await new Promise((resolve) => setTimeout(resolve, retryMs));
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    } finally {
      this.running = undefined;
    }
  }

  /** The patient's timeline and next due date, computed from the stored results. */
  async timeline(
    patientKey: string,
    clinics?: readonly string[] | null,
  ): Promise<{ timeline: PatientTimeline; due: FollowupDue | null }> {
    const all = await this.o.store.observationsFor(patientKey);
    return this.timelineOf(patientKey, clinics ? all.filter((o) => clinics.includes(o.clinicId)) : all);
  }

  private timelineOf(
    patientKey: string,
    observations: FollowupObservation[],
  ): { timeline: PatientTimeline; due: FollowupDue | null } {
    const timeline = buildPatientTimeline(patientKey, observations, this.policy.timeline);
    return { timeline, due: followupDue(timeline, this.policy.overdue) };
  }

  async recompute(patientKey: string): Promise<TimelineSaveOutcome | undefined> {
    return (await this.recomputeMany([patientKey]))[0];
  }

  /** Recomputes patients' timelines and saves them together; undefined for a patient without studies. */
  async recomputeMany(patientKeys: readonly string[]): Promise<(TimelineSaveOutcome | undefined)[]> {
    const saves: TimelineSave[] = [];
    const positions: number[] = [];
    // One read for the batch's results and one for its stored summaries, not two per patient.
    const observations = await this.o.store.observationsOf(patientKeys);
    for (const [i, patientKey] of patientKeys.entries()) {
      const { timeline, due } = this.timelineOf(patientKey, observations.get(patientKey) ?? []);
      const summary = timelineSummary(patientKey, timeline, due);
      if (!summary) continue;
      const found = changeConditions(timeline, this.policy.change);
      const overdue = overdueCondition(timeline, this.today(), this.policy.overdue);
      if (overdue) found.push(overdue);
      const conditions = attributeConditions(timeline, found);
      positions.push(i);
      saves.push({ summary, conditions });
    }
    // The clinics each patient was filed under before: a new one is surfaced for review.
    const before = await this.o.store.patientsOf(saves.map((save) => save.summary.patientKey));
    const saved = await this.o.store.saveTimelines(saves);
    for (const save of saves) {
      const had = before.get(save.summary.patientKey)?.clinicIds;
      const added = had ? save.summary.clinicIds.filter((c) => !had.includes(c)) : [];
      if (added.length > 0) {
        this.o.events?.emit({
          type: 'cross-clinic',
          patientKey: save.summary.patientKey,
          clinicIds: save.summary.clinicIds,
          added,
        });
      }
    }
    const outcomes: (TimelineSaveOutcome | undefined)[] = patientKeys.map(() => undefined);
    for (const [k, outcome] of saved.entries()) {
      outcomes[positions[k] as number] = outcome;
      this.announce(outcome);
    }
    return outcomes;
  }

  private announce(outcome: TimelineSaveOutcome): void {
    const changes = [
      ...outcome.opened.map((alert) => ({ alert, what: 'follow-up alert opened' })),
      ...outcome.autoResolved.map((alert) => ({ alert, what: 'follow-up alert resolved by the system' })),
      ...outcome.updated.map((alert) => ({ alert, what: 'follow-up alert updated with new evidence' })),
    ];
    for (const { alert, what } of changes) {
      this.o.logger.info(
        {
          alertKey: alert.alertKey,
          kind: alert.kind,
          severity: alert.severity,
          status: alert.status,
          patientKey: alert.patientKey,
        },
        what,
      );
      this.o.events?.emit({
        type: 'alert',
        alert: {
          alertKey: alert.alertKey,
          kind: alert.kind,
          severity: alert.severity,
          status: alert.status,
          patientKey: alert.patientKey,
          clinicId: alert.clinicId,
        },
      });
    }
  }

  /**
   * Notes the patients whose results of the last day arrived more than a minute ago and are still
   * not in their timeline. A replica notes patients in memory after each commit; one killed before
   * recomputing them would otherwise leave them stale until their next result. Recomputation is
   * idempotent, so noting a patient another replica is computing costs only the work. The count noted.
   */
  async catchUp(nowMs = Date.now()): Promise<number> {
    try {
      const from = new Date(nowMs - CATCH_UP_WINDOW_MS).toISOString();
      const to = new Date(nowMs - CATCH_UP_GRACE_MS).toISOString();
      const behind = await this.o.store.patientsBehind(from, to, 1000);
      if (behind.length > 0) {
        this.o.logger.warn({ patients: behind.length }, 'follow-up caught up on patients no replica had recomputed');
        this.notePatients(behind);
      }
      return behind.length;
    } catch (error) {
      const vigil = asVigilError(error, 'VIGIL_STATE_STORE_UNAVAILABLE');
      this.o.logger.error({ code: vigil.code }, `follow-up catch-up failed: ${vigil.message}`);
      return 0;
    }
  }

  /** Opens overdue alerts for patients whose follow-up window (plus grace) has passed. */
  async sweepOverdue(): Promise<number> {
    const today = this.today();
    const graceCutoff = new Date(Date.parse(`${today}T00:00:00Z`) - this.policy.overdue.graceDays * 86_400_000)
      .toISOString()
      .slice(0, 10);
    let opened = 0;
    try {
      // Bounded per sweep; the next sweep continues where this one stopped.
      const due = await this.o.store.patientsNewlyOverdue(graceCutoff, 5000);
      for (let i = 0; i < due.length; i += RECOMPUTE_BATCH) {
        for (const outcome of await this.recomputeMany(due.slice(i, i + RECOMPUTE_BATCH))) opened += outcome?.opened.length ?? 0;
      }
    } catch (error) {
      const vigil = asVigilError(error, 'VIGIL_STATE_STORE_UNAVAILABLE');
      this.o.logger.error({ code: vigil.code }, `overdue sweep failed: ${vigil.message}`);
    }
    return opened;
  }
}
