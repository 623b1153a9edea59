import { randomUUID } from 'node:crypto';
import { VigilError } from '@vigil/shared';
import type { AuditStore } from '../audit/audit-store.js';
import { type ClinicAssignment, scopeFilter, seesAny } from '../auth/clinic-scope.js';
import type { ResultStore, StoredResult } from '../results/result-store.js';
import type { VerdictStore } from './verdict-store.js';

/** What the verdict service reads and writes: the results judged, and the verdicts. */
export type VerdictServiceStore = Pick<ResultStore, 'getResult' | 'queryResults'> & { readonly verdicts: VerdictStore };

import { importError, type LineError, type ParsedOutcomes, yieldToLoop } from './outcome-csv.js';
import {
  assessmentSubject,
  type DismissReason,
  type FindingVerdict,
  findingSubject,
  type NewVerdict,
  type Outcome,
  outcomeSubject,
  type VerdictRecord,
  type VerdictSource,
} from './verdict-types.js';

/** What a clinician (or an import) says, before the hub resolves what it judges. */
export type VerdictInput =
  | {
      kind: 'finding';
      resultId: string;
      findingIndex: number;
      verdict: FindingVerdict;
      reason?: DismissReason;
      note?: string;
    }
  | {
      kind: 'missed';
      resultId: string;
      x: number;
      y: number;
      diameterMm: number;
      /** Amend (or with `withdrawn`, take back) an earlier missed finding. */
      missedId?: string;
      withdrawn?: boolean;
      note?: string;
    }
  | { kind: 'assessment'; patientKey: string; studyKey: string; birads: number }
  | { kind: 'outcome'; patientKey: string; studyKey: string; outcome: Outcome; laterality?: 'L' | 'R'; date?: string };

export interface VerdictAuthor {
  username: string;
  role: string;
  ip: string;
  source: VerdictSource;
  /**
   * The clinics whose records the author may judge (null: the whole network). A record's own clinic
   * decides (the clinic whose device produced the result), never the clinics a patient was seen at:
   * others' records are refused as unknown.
   */
  clinics: ClinicAssignment;
}

/** Lines resolved between two yields to the event loop during an import. */
const IMPORT_BATCH_LINES = 200;
/** Verdicts stored per transaction (and audited per entry) during an import. */
const IMPORT_STORE_BATCH = 500;

function invalid(message: string): VigilError {
  return new VigilError('VIGIL_VERDICT_INVALID', message);
}

/**
 * Records verdicts: checks each against what it judges (the result and its findings, the study),
 * fills in patient, study and clinic from the hub's own records (never from the caller), appends
 * them all in one transaction and audits each. A batch is all or nothing.
 */
export class VerdictService {
  constructor(
    private readonly state: VerdictServiceStore,
    private readonly audit: AuditStore,
  ) {}

  private async result(resultId: string, author: VerdictAuthor): Promise<StoredResult> {
    const result = await this.state.getResult(resultId);
    // A shadow result never reached a clinician, so nobody can judge it.
    if (!result || result.shadow || !seesAny(author.clinics, [result.clinicId]))
      throw invalid(`result ${resultId} does not exist`);
    return result;
  }

  /** The patient's studies the author may see, each with its clinic (the clinic of its results). */
  private async studiesOf(patientKey: string, author: VerdictAuthor): Promise<Map<string, string>> {
    const studies = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const page = await this.state.queryResults({
        patientKey,
        limit: 500,
        ...scopeFilter(author.clinics),
        ...(cursor ? { cursor } : {}),
      });
      for (const r of page.items) if (!studies.has(r.studyKey)) studies.set(r.studyKey, r.clinicId);
      cursor = page.next ?? undefined;
    } while (cursor);
    return studies;
  }

  /** The clinic of a study the author may see; `cache` holds each patient's studies for an import. */
  private async studyClinic(
    patientKey: string,
    studyKey: string,
    author: VerdictAuthor,
    cache?: Map<string, Map<string, string>>,
  ): Promise<string> {
    let studies = cache?.get(patientKey);
    if (!studies) {
      studies = await this.studiesOf(patientKey, author);
      cache?.set(patientKey, studies);
    }
    const clinicId = studies.get(studyKey);
    if (!clinicId) throw invalid(`patient ${patientKey} has no study ${studyKey}`);
    return clinicId;
  }

  /** Checks one input and turns it into the verdict to store. */
  async resolve(input: VerdictInput, author: VerdictAuthor, cache?: Map<string, Map<string, string>>): Promise<NewVerdict> {
    const by = { author: author.username, source: author.source };
    switch (input.kind) {
      case 'finding': {
        const r = await this.result(input.resultId, author);
        if (!Number.isInteger(input.findingIndex) || input.findingIndex < 0 || input.findingIndex >= r.findings.length) {
          throw invalid(`result ${r.messageId} has ${r.findings.length} findings; there is no finding ${input.findingIndex}`);
        }
        if (input.verdict === 'dismissed' && !input.reason) throw invalid('a dismissed finding needs a reason');
        if (input.verdict !== 'dismissed' && input.reason) throw invalid('only a dismissed finding has a reason');
        return {
          ...by,
          subject: findingSubject(r.messageId, input.findingIndex),
          kind: 'finding',
          patientKey: r.patientKey,
          studyKey: r.studyKey,
          clinicId: r.clinicId,
          resultId: r.messageId,
          findingIndex: input.findingIndex,
          value: {
            verdict: input.verdict,
            ...(input.reason ? { reason: input.reason } : {}),
            ...(input.note ? { note: input.note } : {}),
          },
        };
      }
      case 'missed': {
        const r = await this.result(input.resultId, author);
        let subject = `missed:${randomUUID()}`;
        if (input.missedId) {
          subject = `missed:${input.missedId}`;
          const [previous] = await this.state.verdicts.history(subject);
          if (!previous || previous.resultId !== r.messageId) {
            throw invalid(`missed finding ${input.missedId} was not recorded on result ${r.messageId}`);
          }
        } else if (input.withdrawn) {
          throw invalid('only an earlier missed finding (missedId) can be withdrawn');
        }
        return {
          ...by,
          subject,
          kind: 'missed',
          patientKey: r.patientKey,
          studyKey: r.studyKey,
          clinicId: r.clinicId,
          resultId: r.messageId,
          findingIndex: null,
          value: {
            resultId: r.messageId,
            x: input.x,
            y: input.y,
            diameterMm: input.diameterMm,
            ...(input.withdrawn ? { withdrawn: true } : {}),
            ...(input.note ? { note: input.note } : {}),
          },
        };
      }
      case 'assessment':
      case 'outcome': {
        const clinicId = await this.studyClinic(input.patientKey, input.studyKey, author, cache);
        return {
          ...by,
          subject:
            input.kind === 'assessment' ? assessmentSubject(input.studyKey) : outcomeSubject(input.studyKey, input.laterality),
          kind: input.kind,
          patientKey: input.patientKey,
          studyKey: input.studyKey,
          clinicId,
          resultId: null,
          findingIndex: null,
          value:
            input.kind === 'assessment'
              ? { birads: input.birads }
              : {
                  outcome: input.outcome,
                  ...(input.laterality ? { laterality: input.laterality } : {}),
                  ...(input.date ? { date: input.date } : {}),
                },
        };
      }
    }
  }

  /** Stores already-resolved verdicts in one transaction and audits each (who, what, what it replaced). */
  async store(verdicts: readonly NewVerdict[], author: VerdictAuthor): Promise<VerdictRecord[]> {
    const stored = await this.state.verdicts.append(verdicts);
    for (const v of stored) {
      await this.audit.append({
        actor: author.username,
        actorRole: author.role,
        action: v.supersedes ? 'verdict.amend' : 'verdict.record',
        targetType: 'verdict',
        targetId: v.subject,
        patientKey: v.patientKey,
        outcome: 'success',
        details: { verdictId: v.verdictId, supersedes: v.supersedes, value: v.value, source: v.source },
        ip: author.ip,
      });
    }
    return stored;
  }

  /**
   * Imports an outcomes file's lines: every line is resolved first (a study the hub does not know
   * is a bad line); any bad line fails the whole file, naming each, and nothing is stored. The work
   * is done in batches that yield to the event loop (each patient's studies are read once), and the
   * verdicts are stored in transactions of IMPORT_STORE_BATCH, each audited as one entry that lists
   * its verdicts, so a large file never holds the hub's loop. A database failure part-way leaves the
   * batches before it stored; importing the same file again records each verdict once more as an
   * amendment with the same value.
   */
  async importLines(parsed: ParsedOutcomes, author: VerdictAuthor): Promise<VerdictRecord[]> {
    const { lines } = parsed;
    const errors: LineError[] = [...parsed.errors];
    const resolved: NewVerdict[] = [];
    const cache = new Map<string, Map<string, string>>();
    for (const [k, { line, inputs }] of lines.entries()) {
      if (k % IMPORT_BATCH_LINES === IMPORT_BATCH_LINES - 1) await yieldToLoop();
      for (const input of inputs) {
        try {
          resolved.push(await this.resolve(input, author, cache));
        } catch (error) {
          if (!(error instanceof VigilError) || error.code !== 'VIGIL_VERDICT_INVALID') throw error;
          errors.push({ line, reason: error.message });
        }
      }
    }
    if (errors.length > 0) throw importError(errors.sort((a, b) => a.line - b.line));
    const stored: VerdictRecord[] = [];
    for (let at = 0; at < resolved.length; at += IMPORT_STORE_BATCH) {
      const batch = await this.state.verdicts.append(resolved.slice(at, at + IMPORT_STORE_BATCH));
      await this.audit.append({
        actor: author.username,
        actorRole: author.role,
        action: 'verdict.import',
        targetType: 'verdict',
        targetId: '*',
        patientKey: null,
        outcome: 'success',
        details: {
          source: author.source,
          verdicts: batch.map((v) => ({ verdictId: v.verdictId, subject: v.subject, supersedes: v.supersedes })),
        },
        ip: author.ip,
      });
      stored.push(...batch);
      await yieldToLoop();
    }
    return stored;
  }

  async record(inputs: readonly VerdictInput[], author: VerdictAuthor): Promise<VerdictRecord[]> {
    const resolved: NewVerdict[] = [];
    for (const input of inputs) resolved.push(await this.resolve(input, author));
    return this.store(resolved, author);
  }
}
