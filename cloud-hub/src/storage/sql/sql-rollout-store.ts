import type { ModelDesiredMessage } from '@vigil/shared';
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
import { leaseHeld, marks, type SqlPort, type Statement } from './sql-port.js';

const json = (value: unknown) => (value ? JSON.stringify(value) : null);

/**
 * Model registry, rollouts, desired models and replicas' operator commands on any engine. With a
 * fence (the rollout lease holder's ticks), every write first checks in its own transaction that the
 * lease is still held, so a replica that lost it cannot overwrite the new holder's decisions.
 */
export class SqlRolloutStore implements RolloutStore {
  constructor(
    private readonly db: SqlPort,
    private readonly fence?: LeaseFence,
  ) {}

  withFence(fence: LeaseFence): RolloutStore {
    return new SqlRolloutStore(this.db, fence);
  }

  /** Statements in one transaction, behind the fence's guard when the store has one. */
  private async write(what: string, statements: Statement[]): Promise<number[]> {
    const guard = this.fence ? [leaseHeld(this.db.dialect, this.fence)] : [];
    const done = await this.db.batch(what, [...guard, ...statements]);
    return done.slice(guard.length).map((r) => r.changes);
  }

  async addPackage(p: ModelPackageRecord): Promise<void> {
    await this.write('addPackage', [
      {
        sql: `INSERT INTO model_packages (name, version, sha256, size_bytes, key_id, signature, file, published_by, published_at)
          VALUES (${marks(9)})
          ON CONFLICT (name, version) DO UPDATE SET sha256 = excluded.sha256, size_bytes = excluded.size_bytes,
            key_id = excluded.key_id, signature = excluded.signature, file = excluded.file,
            published_by = excluded.published_by, published_at = excluded.published_at`,
        params: [p.name, p.version, p.sha256, p.sizeBytes, p.keyId, p.signature, p.file, p.publishedBy, p.publishedAt],
      },
    ]);
  }

  async getPackage(name: string, version: string): Promise<ModelPackageRecord | undefined> {
    const [row] = await this.db.all('getPackage', 'SELECT * FROM model_packages WHERE name = ? AND version = ?', [name, version]);
    return row ? toPackage(row) : undefined;
  }

  async listPackages(): Promise<ModelPackageRecord[]> {
    const sql = `SELECT * FROM model_packages ORDER BY name${this.db.dialect.byCodePoint}, published_at DESC`;
    return (await this.db.all('listPackages', sql)).map(toPackage);
  }

  async createRollout(r: RolloutRecord, devices: RolloutDevice[]): Promise<void> {
    const device = `INSERT INTO rollout_devices
      (rollout_id, device_id, clinic_id, wave, previous_json, state, reason, baseline_json, updated_at) VALUES (${marks(9)})`;
    await this.write('createRollout', [
      { sql: `INSERT INTO rollouts (${ROLLOUT_INSERT_COLUMNS}) VALUES (${marks(14)})`, params: rolloutRowValues(r) },
      ...devices.map((d) => ({
        sql: device,
        params: [d.rolloutId, d.deviceId, d.clinicId, d.wave, json(d.previous), d.state, d.reason, json(d.baseline), d.updatedAt],
      })),
    ]);
  }

  async updateRollout(rolloutId: string, update: Parameters<RolloutStore['updateRollout']>[1]): Promise<void> {
    const keys = Object.keys(update) as (keyof typeof ROLLOUT_COLUMNS)[];
    const sets = [...keys.map((k) => `${ROLLOUT_COLUMNS[k]} = ?`), 'updated_at = ?'].join(', ');
    const values = keys.map((k) => (k === 'gates' ? JSON.stringify(update.gates) : (update[k] ?? null)));
    await this.write('updateRollout', [
      { sql: `UPDATE rollouts SET ${sets} WHERE rollout_id = ?`, params: [...values, new Date().toISOString(), rolloutId] },
    ]);
  }

  async updateRolloutDevice(
    rolloutId: string,
    deviceId: string,
    update: Parameters<RolloutStore['updateRolloutDevice']>[2],
  ): Promise<void> {
    const sets = ['updated_at = ?'];
    const values: (string | null)[] = [new Date().toISOString()];
    const set = (column: string, value: string | null) => {
      sets.push(`${column} = ?`);
      values.push(value);
    };
    if (update.state !== undefined) set('state', update.state);
    if (update.reason !== undefined) set('reason', update.reason);
    if (update.baseline !== undefined) set('baseline_json', json(update.baseline));
    await this.write('updateRolloutDevice', [
      {
        sql: `UPDATE rollout_devices SET ${sets.join(', ')} WHERE rollout_id = ? AND device_id = ?`,
        params: [...values, rolloutId, deviceId],
      },
    ]);
  }

  async getRollout(rolloutId: string): Promise<RolloutRecord | undefined> {
    const [row] = await this.db.all('getRollout', 'SELECT * FROM rollouts WHERE rollout_id = ?', [rolloutId]);
    return row ? toRollout(row) : undefined;
  }

  async listRollouts(limit: number): Promise<RolloutRecord[]> {
    return (await this.db.all('listRollouts', 'SELECT * FROM rollouts ORDER BY created_at DESC LIMIT ?', [limit])).map(toRollout);
  }

  async rolloutDevices(rolloutId: string): Promise<RolloutDevice[]> {
    const sql = `SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY wave, device_id${this.db.dialect.byCodePoint}`;
    return (await this.db.all('rolloutDevices', sql, [rolloutId])).map(toDevice);
  }

  async setDesired(m: ModelDesiredMessage): Promise<void> {
    await this.write('setDesired', [
      {
        sql: `INSERT INTO device_desired (device_id, clinic_id, message_json, updated_at) VALUES (?, ?, ?, ?)
          ON CONFLICT (device_id) DO UPDATE SET clinic_id = excluded.clinic_id, message_json = excluded.message_json,
          updated_at = excluded.updated_at`,
        params: [m.deviceId, m.clinicId, JSON.stringify(m), m.issuedAt],
      },
    ]);
  }

  async listDesired(): Promise<ModelDesiredMessage[]> {
    const sql = `SELECT message_json FROM device_desired ORDER BY device_id${this.db.dialect.byCodePoint}`;
    return (await this.db.all('listDesired', sql)).map((r) => JSON.parse(r.message_json as string) as ModelDesiredMessage);
  }

  // Commands are requested, finished and withdrawn unfenced: only carrying one out (the claim) is
  // the lease holder's; its outcome is the requester's to read whoever holds the lease now.
  async requestCommand(c: Parameters<RolloutStore['requestCommand']>[0]): Promise<void> {
    await this.db.run(
      'requestCommand',
      'INSERT INTO rollout_commands (command_id, action, input_json, requested_by, requested_at) VALUES (?, ?, ?, ?, ?)',
      [c.commandId, c.action, JSON.stringify(c.input), c.requestedBy, c.requestedAt],
    );
  }

  async pendingCommands(limit: number): Promise<RolloutCommand[]> {
    const sql = `SELECT * FROM rollout_commands WHERE done_at IS NULL AND claimed_by IS NULL
      ORDER BY requested_at, command_id LIMIT ?`;
    return (await this.db.all('pendingCommands', sql, [limit])).map(toCommand);
  }

  async claimCommand(commandId: string, replica: string): Promise<boolean> {
    const [n] = await this.write('claimCommand', [
      {
        sql: 'UPDATE rollout_commands SET claimed_by = ? WHERE command_id = ? AND claimed_by IS NULL AND done_at IS NULL',
        params: [replica, commandId],
      },
    ]);
    return n === 1;
  }

  async finishCommand(commandId: string, outcome: RolloutCommandOutcome): Promise<void> {
    await this.db.run('finishCommand', 'UPDATE rollout_commands SET done_at = ?, outcome_json = ? WHERE command_id = ?', [
      new Date().toISOString(),
      JSON.stringify(outcome),
      commandId,
    ]);
  }

  async withdrawCommand(commandId: string, outcome: RolloutCommandOutcome): Promise<boolean> {
    const sql = `UPDATE rollout_commands SET done_at = ?, outcome_json = ?
      WHERE command_id = ? AND claimed_by IS NULL AND done_at IS NULL`;
    return (await this.db.run('withdrawCommand', sql, [new Date().toISOString(), JSON.stringify(outcome), commandId])) === 1;
  }

  async getCommand(commandId: string): Promise<RolloutCommand | undefined> {
    const [row] = await this.db.all('getCommand', 'SELECT * FROM rollout_commands WHERE command_id = ?', [commandId]);
    return row ? toCommand(row) : undefined;
  }
}
