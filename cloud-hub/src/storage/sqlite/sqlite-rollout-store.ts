import type { ModelDesiredMessage } from '@vigil/shared';
import type Database from 'better-sqlite3';
import type { LeaseFence } from '../../cluster/lease-store.js';
import type {
  ModelPackageRecord,
  RolloutCommand,
  RolloutCommandOutcome,
  RolloutDevice,
  RolloutRecord,
  RolloutStore,
} from '../../rollout/rollout-store.js';
import {
  ROLLOUT_COLUMNS,
  ROLLOUT_INSERT_COLUMNS,
  rolloutRowValues,
  toCommand,
  toDevice,
  toPackage,
  toRollout,
} from '../rollout-rows.js';
import { assertFenceSync } from './sqlite-lease-store.js';
import { durableWrite, wrap } from './sqlite-wrap.js';

type Row = Record<string, unknown>;

export class SqliteRolloutStore implements RolloutStore {
  constructor(
    private readonly db: Database.Database,
    private readonly durable: (what: string) => Promise<void>,
    private readonly fence?: LeaseFence,
  ) {}

  withFence(fence: LeaseFence): RolloutStore {
    return new SqliteRolloutStore(this.db, this.durable, fence);
  }

  /** A write in one transaction that first checks the fence when the store has one. */
  private write<T>(what: string, fn: () => T): Promise<T> {
    const fence = this.fence;
    return durableWrite(
      what,
      this.db.transaction(() => {
        if (fence) assertFenceSync(this.db, fence);
        return fn();
      }),
      this.durable,
    );
  }

  addPackage(p: ModelPackageRecord): Promise<void> {
    return this.write('addPackage', () => {
      this.db
        .prepare(`INSERT OR REPLACE INTO model_packages
          (name, version, sha256, size_bytes, key_id, signature, file, published_by, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(p.name, p.version, p.sha256, p.sizeBytes, p.keyId, p.signature, p.file, p.publishedBy, p.publishedAt);
    });
  }

  getPackage(name: string, version: string): Promise<ModelPackageRecord | undefined> {
    return wrap('getPackage', () => {
      const row = this.db.prepare('SELECT * FROM model_packages WHERE name = ? AND version = ?').get(name, version) as
        | Row
        | undefined;
      return row ? toPackage(row) : undefined;
    });
  }

  listPackages(): Promise<ModelPackageRecord[]> {
    return wrap('listPackages', () =>
      (this.db.prepare('SELECT * FROM model_packages ORDER BY name, published_at DESC').all() as Row[]).map(toPackage),
    );
  }

  createRollout(r: RolloutRecord, devices: RolloutDevice[]): Promise<void> {
    return this.write('createRollout', () =>
      this.db.transaction(() => {
        this.db
          .prepare(
            `INSERT INTO rollouts (${ROLLOUT_INSERT_COLUMNS}) VALUES (${Array.from({ length: 14 }, () => '?').join(', ')})`,
          )
          .run(...rolloutRowValues(r));
        const insert = this.db.prepare(`INSERT INTO rollout_devices
          (rollout_id, device_id, clinic_id, wave, previous_json, state, reason, baseline_json, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
        for (const d of devices) {
          insert.run(
            d.rolloutId,
            d.deviceId,
            d.clinicId,
            d.wave,
            d.previous ? JSON.stringify(d.previous) : null,
            d.state,
            d.reason,
            d.baseline ? JSON.stringify(d.baseline) : null,
            d.updatedAt,
          );
        }
      })(),
    );
  }

  updateRollout(rolloutId: string, update: Parameters<RolloutStore['updateRollout']>[1]): Promise<void> {
    const keys = Object.keys(update) as (keyof typeof ROLLOUT_COLUMNS)[];
    return this.write('updateRollout', () => {
      const sets = [...keys.map((k) => `${ROLLOUT_COLUMNS[k]} = ?`), 'updated_at = ?'].join(', ');
      const values = keys.map((k) => (k === 'gates' ? JSON.stringify(update.gates) : (update[k] ?? null)));
      this.db.prepare(`UPDATE rollouts SET ${sets} WHERE rollout_id = ?`).run(...values, new Date().toISOString(), rolloutId);
    });
  }

  updateRolloutDevice(
    rolloutId: string,
    deviceId: string,
    update: Parameters<RolloutStore['updateRolloutDevice']>[2],
  ): Promise<void> {
    return this.write('updateRolloutDevice', () => {
      const sets: string[] = ['updated_at = ?'];
      const values: (string | null)[] = [new Date().toISOString()];
      if (update.state !== undefined) {
        sets.push('state = ?');
        values.push(update.state);
      }
      if (update.reason !== undefined) {
        sets.push('reason = ?');
        values.push(update.reason);
      }
      if (update.baseline !== undefined) {
        sets.push('baseline_json = ?');
        values.push(update.baseline ? JSON.stringify(update.baseline) : null);
      }
      this.db
        .prepare(`UPDATE rollout_devices SET ${sets.join(', ')} WHERE rollout_id = ? AND device_id = ?`)
        .run(...values, rolloutId, deviceId);
    });
  }

  getRollout(rolloutId: string): Promise<RolloutRecord | undefined> {
    return wrap('getRollout', () => {
      const row = this.db.prepare('SELECT * FROM rollouts WHERE rollout_id = ?').get(rolloutId) as Row | undefined;
      return row ? toRollout(row) : undefined;
    });
  }

  listRollouts(limit: number): Promise<RolloutRecord[]> {
    return wrap('listRollouts', () =>
      (this.db.prepare('SELECT * FROM rollouts ORDER BY created_at DESC LIMIT ?').all(limit) as Row[]).map(toRollout),
    );
  }

  rolloutDevices(rolloutId: string): Promise<RolloutDevice[]> {
    return wrap('rolloutDevices', () =>
      (
        this.db.prepare('SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY wave, device_id').all(rolloutId) as Row[]
      ).map(toDevice),
    );
  }

  setDesired(m: ModelDesiredMessage): Promise<void> {
    return this.write('setDesired', () => {
      this.db
        .prepare(`INSERT INTO device_desired (device_id, clinic_id, message_json, updated_at) VALUES (?, ?, ?, ?)
          ON CONFLICT(device_id) DO UPDATE SET clinic_id = excluded.clinic_id, message_json = excluded.message_json,
          updated_at = excluded.updated_at`)
        .run(m.deviceId, m.clinicId, JSON.stringify(m), m.issuedAt);
    });
  }

  listDesired(): Promise<ModelDesiredMessage[]> {
    return wrap('listDesired', () =>
      (this.db.prepare('SELECT message_json FROM device_desired ORDER BY device_id').all() as { message_json: string }[]).map(
        (r) => JSON.parse(r.message_json) as ModelDesiredMessage,
      ),
    );
  }

  requestCommand(c: Parameters<RolloutStore['requestCommand']>[0]): Promise<void> {
    return durableWrite(
      'requestCommand',
      () => {
        this.db
          .prepare(
            'INSERT INTO rollout_commands (command_id, action, input_json, requested_by, requested_at) VALUES (?, ?, ?, ?, ?)',
          )
          .run(c.commandId, c.action, JSON.stringify(c.input), c.requestedBy, c.requestedAt);
      },
      this.durable,
    );
  }

  pendingCommands(limit: number): Promise<RolloutCommand[]> {
    return wrap('pendingCommands', () =>
      (
        this.db
          .prepare(`SELECT * FROM rollout_commands WHERE done_at IS NULL AND claimed_by IS NULL
            ORDER BY requested_at, command_id LIMIT ?`)
          .all(limit) as Row[]
      ).map(toCommand),
    );
  }

  claimCommand(commandId: string, replica: string): Promise<boolean> {
    return this.write(
      'claimCommand',
      () =>
        this.db
          .prepare('UPDATE rollout_commands SET claimed_by = ? WHERE command_id = ? AND claimed_by IS NULL AND done_at IS NULL')
          .run(replica, commandId).changes === 1,
    );
  }

  finishCommand(commandId: string, outcome: RolloutCommandOutcome): Promise<void> {
    return durableWrite(
      'finishCommand',
      () => {
        this.db
          .prepare('UPDATE rollout_commands SET done_at = ?, outcome_json = ? WHERE command_id = ?')
          .run(new Date().toISOString(), JSON.stringify(outcome), commandId);
      },
      this.durable,
    );
  }

  withdrawCommand(commandId: string, outcome: RolloutCommandOutcome): Promise<boolean> {
    return durableWrite(
      'withdrawCommand',
      () =>
        this.db
          .prepare(
            'UPDATE rollout_commands SET done_at = ?, outcome_json = ? WHERE command_id = ? AND claimed_by IS NULL AND done_at IS NULL',
          )
          .run(new Date().toISOString(), JSON.stringify(outcome), commandId).changes === 1,
      this.durable,
    );
  }

  getCommand(commandId: string): Promise<RolloutCommand | undefined> {
    return wrap('getCommand', () => {
      const row = this.db.prepare('SELECT * FROM rollout_commands WHERE command_id = ?').get(commandId) as Row | undefined;
      return row ? toCommand(row) : undefined;
    });
  }
}
