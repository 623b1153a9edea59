import type { ModelDesiredMessage } from '@vigil/shared';
import type pg from 'pg';
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
import { changed, inTransaction, Params, rows } from './pg-client.js';
import { assertFence } from './pg-lease-store.js';

/** Model registry, rollouts and desired models on PostgreSQL (the same rules as the SQLite store). */
export class PgRolloutStore implements RolloutStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly fence?: LeaseFence,
  ) {}

  withFence(fence: LeaseFence): RolloutStore {
    return new PgRolloutStore(this.pool, fence);
  }

  /** A write: in a transaction that first checks the fence when the store has one. */
  private write<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const fence = this.fence;
    return inTransaction(this.pool, what, async (c) => {
      if (fence) await assertFence(c, fence);
      return fn(c);
    });
  }

  async addPackage(p: ModelPackageRecord): Promise<void> {
    await changed(
      this.pool,
      'addPackage',
      `INSERT INTO model_packages (name, version, sha256, size_bytes, key_id, signature, file, published_by, published_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (name, version) DO UPDATE SET sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes,
          key_id = EXCLUDED.key_id, signature = EXCLUDED.signature, file = EXCLUDED.file,
          published_by = EXCLUDED.published_by, published_at = EXCLUDED.published_at`,
      [p.name, p.version, p.sha256, p.sizeBytes, p.keyId, p.signature, p.file, p.publishedBy, p.publishedAt],
    );
  }

  async getPackage(name: string, version: string): Promise<ModelPackageRecord | undefined> {
    const sql = 'SELECT * FROM model_packages WHERE name = $1 AND version = $2';
    const [row] = await rows(this.pool, 'getPackage', sql, [name, version]);
    return row ? toPackage(row) : undefined;
  }

  async listPackages(): Promise<ModelPackageRecord[]> {
    const sql = 'SELECT * FROM model_packages ORDER BY name COLLATE "C", published_at DESC';
    return (await rows(this.pool, 'listPackages', sql)).map(toPackage);
  }

  createRollout(r: RolloutRecord, devices: RolloutDevice[]): Promise<void> {
    return this.write('createRollout', async (c) => {
      await c.query(
        `INSERT INTO rollouts (${ROLLOUT_INSERT_COLUMNS}) VALUES (${Array.from({ length: 14 }, (_v, k) => `$${k + 1}`).join(', ')})`,
        rolloutRowValues(r),
      );
      await c.query(
        `INSERT INTO rollout_devices (rollout_id, device_id, clinic_id, wave, previous_json, state, reason, baseline_json, updated_at)
          SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])`,
        [
          devices.map((d) => d.rolloutId),
          devices.map((d) => d.deviceId),
          devices.map((d) => d.clinicId),
          devices.map((d) => d.wave),
          devices.map((d) => (d.previous ? JSON.stringify(d.previous) : null)),
          devices.map((d) => d.state),
          devices.map((d) => d.reason),
          devices.map((d) => (d.baseline ? JSON.stringify(d.baseline) : null)),
          devices.map((d) => d.updatedAt),
        ],
      );
    });
  }

  async updateRollout(rolloutId: string, update: Parameters<RolloutStore['updateRollout']>[1]): Promise<void> {
    const keys = Object.keys(update) as (keyof typeof ROLLOUT_COLUMNS)[];
    const p = new Params();
    const sets = [
      ...keys.map((k) => `${ROLLOUT_COLUMNS[k]} = ${p.add(k === 'gates' ? JSON.stringify(update.gates) : (update[k] ?? null))}`),
      `updated_at = ${p.add(new Date().toISOString())}`,
    ];
    const sql = `UPDATE rollouts SET ${sets.join(', ')} WHERE rollout_id = ${p.add(rolloutId)}`;
    await this.write('updateRollout', (c) => c.query(sql, p.values));
  }

  async updateRolloutDevice(
    rolloutId: string,
    deviceId: string,
    update: Parameters<RolloutStore['updateRolloutDevice']>[2],
  ): Promise<void> {
    const p = new Params();
    const sets = [`updated_at = ${p.add(new Date().toISOString())}`];
    if (update.state !== undefined) sets.push(`state = ${p.add(update.state)}`);
    if (update.reason !== undefined) sets.push(`reason = ${p.add(update.reason)}`);
    if (update.baseline !== undefined)
      sets.push(`baseline_json = ${p.add(update.baseline ? JSON.stringify(update.baseline) : null)}`);
    const sql = `UPDATE rollout_devices SET ${sets.join(', ')} WHERE rollout_id = ${p.add(rolloutId)} AND device_id = ${p.add(deviceId)}`;
    await this.write('updateRolloutDevice', (c) => c.query(sql, p.values));
  }

  async getRollout(rolloutId: string): Promise<RolloutRecord | undefined> {
    const [row] = await rows(this.pool, 'getRollout', 'SELECT * FROM rollouts WHERE rollout_id = $1', [rolloutId]);
    return row ? toRollout(row) : undefined;
  }

  async listRollouts(limit: number): Promise<RolloutRecord[]> {
    const sql = 'SELECT * FROM rollouts ORDER BY created_at DESC LIMIT $1';
    return (await rows(this.pool, 'listRollouts', sql, [limit])).map(toRollout);
  }

  async rolloutDevices(rolloutId: string): Promise<RolloutDevice[]> {
    const sql = 'SELECT * FROM rollout_devices WHERE rollout_id = $1 ORDER BY wave, device_id COLLATE "C"';
    return (await rows(this.pool, 'rolloutDevices', sql, [rolloutId])).map(toDevice);
  }

  async setDesired(m: ModelDesiredMessage): Promise<void> {
    await this.write('setDesired', (c) =>
      c.query(
        `INSERT INTO device_desired (device_id, clinic_id, message_json, updated_at) VALUES ($1, $2, $3, $4)
          ON CONFLICT (device_id) DO UPDATE SET clinic_id = EXCLUDED.clinic_id, message_json = EXCLUDED.message_json,
          updated_at = EXCLUDED.updated_at`,
        [m.deviceId, m.clinicId, JSON.stringify(m), m.issuedAt],
      ),
    );
  }

  async listDesired(): Promise<ModelDesiredMessage[]> {
    const found = await rows(this.pool, 'listDesired', 'SELECT message_json FROM device_desired ORDER BY device_id COLLATE "C"');
    return found.map((r) => JSON.parse(r.message_json as string) as ModelDesiredMessage);
  }

  async requestCommand(c: Parameters<RolloutStore['requestCommand']>[0]): Promise<void> {
    await changed(
      this.pool,
      'requestCommand',
      `INSERT INTO rollout_commands (command_id, action, input_json, requested_by, requested_at) VALUES ($1, $2, $3, $4, $5)`,
      [c.commandId, c.action, JSON.stringify(c.input), c.requestedBy, c.requestedAt],
    );
  }

  async pendingCommands(limit: number): Promise<RolloutCommand[]> {
    const sql = `SELECT * FROM rollout_commands WHERE done_at IS NULL AND claimed_by IS NULL
      ORDER BY requested_at, command_id LIMIT $1`;
    return (await rows(this.pool, 'pendingCommands', sql, [limit])).map(toCommand);
  }

  claimCommand(commandId: string, replica: string): Promise<boolean> {
    return this.write('claimCommand', async (c) => {
      const r = await c.query(
        'UPDATE rollout_commands SET claimed_by = $2 WHERE command_id = $1 AND claimed_by IS NULL AND done_at IS NULL',
        [commandId, replica],
      );
      return r.rowCount === 1;
    });
  }

  async finishCommand(commandId: string, outcome: RolloutCommandOutcome): Promise<void> {
    // Not fenced: the action itself was; its outcome is the requester's to read whoever holds the lease now.
    await changed(
      this.pool,
      'finishCommand',
      'UPDATE rollout_commands SET done_at = $2, outcome_json = $3 WHERE command_id = $1',
      [commandId, new Date().toISOString(), JSON.stringify(outcome)],
    );
  }

  async withdrawCommand(commandId: string, outcome: RolloutCommandOutcome): Promise<boolean> {
    const n = await changed(
      this.pool,
      'withdrawCommand',
      'UPDATE rollout_commands SET done_at = $2, outcome_json = $3 WHERE command_id = $1 AND claimed_by IS NULL AND done_at IS NULL',
      [commandId, new Date().toISOString(), JSON.stringify(outcome)],
    );
    return n === 1;
  }

  async getCommand(commandId: string): Promise<RolloutCommand | undefined> {
    const [row] = await rows(this.pool, 'getCommand', 'SELECT * FROM rollout_commands WHERE command_id = $1', [commandId]);
    return row ? toCommand(row) : undefined;
  }
}
