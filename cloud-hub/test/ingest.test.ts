import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger, encodeMessage, TELEMETRY_SCHEMA, topicFor } from '@vigil/shared';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { subMillisecondOffset } from '../src/ingest/history-points.js';
import { IngestPipeline } from '../src/ingest/ingest-pipeline.js';
import { SqliteHistoryStore } from '../src/storage/sqlite/sqlite-history-store.js';
import { SqliteStateStore } from '../src/storage/sqlite/sqlite-state-store.js';

const address = { clinicId: 'clinic-a', deviceId: 'edge-1' };

function setup() {
  const dir = makeTempDir('ingest');
  const state = new SqliteStateStore(join(dir.path, 'state.sqlite'));
  const history = new SqliteHistoryStore(join(dir.path, 'history.sqlite'));
  const ingest = new IngestPipeline({
    state,
    history,
    logger: createLogger('test', { level: 'silent' }),
    maxPayloadBytes: 8192,
    batchSize: 50,
    maxWaitMs: 2,
  });
  return {
    state,
    history,
    ingest,
    async close() {
      await ingest.close();
      await state.close();
      await history.close();
      dir.remove();
    },
  };
}

test('valid results are stored once however often they arrive', async () => {
  const s = setup();
  try {
    const results = Array.from({ length: 120 }, (_, i) => syntheticResult(address, i));
    const topic = topicFor(address, 'results');
    const outcomes = await Promise.all([
      ...results.map((r) => s.ingest.submit(topic, encodeMessage(r), 'edge-1')),
      ...results.slice(0, 40).map((r) => s.ingest.submit(topic, encodeMessage(r), 'edge-1')),
    ]);
    assert.ok(outcomes.every((o) => o === 'stored'));
    // and once more in a later batch
    await s.ingest.submit(topic, encodeMessage(results[0] as (typeof results)[0]), 'edge-1');
    assert.equal(await s.state.countResults(), 120);
    assert.equal(s.ingest.duplicateTotal, 41);
    const stored = await s.state.getResult(results[7]?.messageId ?? '');
    assert.equal(stored?.score, results[7]?.score);
    const inference = await s.history.query({ measurement: 'inference', field: 'score', fromMs: 0, toMs: Date.UTC(2030, 0) });
    assert.equal(inference.length, 120, 'one history point per result, replays overwrite');
  } finally {
    await s.close();
  }
});

test('malformed, invalid, oversized and misaddressed messages are dead-lettered with a reason', async () => {
  const s = setup();
  try {
    const topic = topicFor(address, 'results');
    const cases: [string, Buffer, string][] = [
      [topic, Buffer.from('not json'), 'VIGIL_PAYLOAD_NOT_JSON'],
      [topic, encodeMessage({ ...syntheticResult(address, 1), score: 'high' }), 'VIGIL_PAYLOAD_SCHEMA'],
      [topic, Buffer.alloc(9000, 0x20), 'VIGIL_PAYLOAD_OVERSIZED'],
      [topic, encodeMessage(syntheticResult({ clinicId: 'clinic-a', deviceId: 'edge-9' }, 1)), 'VIGIL_PAYLOAD_IDENTITY_MISMATCH'],
      ['vigil/v1/clinic-a/edge-1/model/desired', encodeMessage({}), 'VIGIL_PAYLOAD_SCHEMA'],
    ];
    for (const [t, payload] of cases) assert.equal(await s.ingest.submit(t, payload, 'edge-1'), 'dead-lettered');
    const letters = await s.state.listDeadLetters(10);
    assert.deepEqual(letters.map((l) => l.code).sort(), cases.map((c) => c[2]).sort());
    const oversized = letters.find((l) => l.code === 'VIGIL_PAYLOAD_OVERSIZED');
    assert.equal(oversized?.payloadBytes, 9000);
    assert.equal(oversized?.payloadExcerpt.byteLength, 4096);
    assert.match(oversized?.payloadSha256 ?? '', /^[0-9a-f]{64}$/);
    assert.equal(await s.state.countResults(), 0);
    // A valid message after the bad ones is still stored.
    assert.equal(await s.ingest.submit(topic, encodeMessage(syntheticResult(address, 2)), 'edge-1'), 'stored');
    assert.equal(await s.state.countResults(), 1);
  } finally {
    await s.close();
  }
});

test('telemetry becomes device state and history points', async () => {
  const s = setup();
  try {
    const telemetry = {
      schema: TELEMETRY_SCHEMA,
      messageId: 'tel-00000001',
      ...address,
      sampledAt: '2026-11-25T10:00:00.000Z',
      intervalS: 10,
      cpu: { cores: 2, utilizationPct: 41.5, load1: 0.7, processPct: 12 },
      memory: { totalBytes: 8e9, availableBytes: 5e9, processRssBytes: 2e8 },
      disk: { path: '/var/lib/vigil', totalBytes: 1e11, freeBytes: 4e10 },
      gpus: [{ index: 0, name: 'A10', utilizationPct: 63, memoryUsedBytes: 1e9, memoryTotalBytes: 2.4e10 }],
      pipeline: { received: 10, processed: 9, failed: 0, quarantined: 1, queueDepth: 0 },
      outbox: { depth: 3, results: 2, telemetry: 1, bytes: 2048, oldestAgeS: 4, evictedTelemetry: 0 },
    };
    assert.equal(await s.ingest.submit(topicFor(address, 'telemetry'), encodeMessage(telemetry), 'edge-1'), 'stored');
    const [state] = await s.state.listDeviceStates();
    assert.equal(state?.lastTelemetry?.cpu.utilizationPct, 41.5);
    const gpu = await s.history.query({
      measurement: 'device_telemetry',
      field: 'gpu0_utilization_pct',
      tags: { device: 'edge-1' },
      fromMs: Date.parse('2026-11-25T00:00:00Z'),
      toMs: Date.parse('2026-11-26T00:00:00Z'),
    });
    assert.deepEqual(
      gpu.map((g) => g.value),
      [63],
    );
  } finally {
    await s.close();
  }
});

test('when the state store fails, submit rejects (no acknowledgement) with a coded error', async () => {
  const s = setup();
  await s.state.close();
  try {
    await assert.rejects(s.ingest.submit(topicFor(address, 'results'), encodeMessage(syntheticResult(address, 1)), 'edge-1'), {
      code: 'VIGIL_STATE_STORE_UNAVAILABLE',
    });
  } finally {
    await s.ingest.close();
    await s.history.close();
  }
});

test('sub-millisecond offsets are deterministic, below 1 ms and well spread', () => {
  const ids = Array.from({ length: 10_000 }, (_, i) => syntheticResult(address, i).messageId);
  const offsets = ids.map((id) => subMillisecondOffset(id));
  assert.deepEqual(
    offsets,
    ids.map((id) => subMillisecondOffset(id)),
  );
  assert.ok(offsets.every((o) => o >= 0n && o < 1_000_000n));
  assert.ok(new Set(offsets).size > 9_900, 'collisions are rare');
});

test('with one commit in flight, what arrives meanwhile goes in the next batch, and every message is stored', async () => {
  const dir = makeTempDir('ingest-group');
  const state = new SqliteStateStore(join(dir.path, 'state.sqlite'));
  const history = new SqliteHistoryStore(join(dir.path, 'history.sqlite'));
  // The real store, with each commit held back a little so messages pile up behind it.
  let inFlight = 0;
  let mostInFlight = 0;
  const batchSizes: number[] = [];
  const store: Pick<SqliteStateStore, 'commitIngest'> = {
    commitIngest: async (batch) => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      batchSizes.push(batch.results.length);
      try {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return await state.commitIngest(batch);
      } finally {
        inFlight--;
      }
    },
  };
  const ingest = new IngestPipeline({
    state: store,
    history,
    logger: createLogger('test', { level: 'silent' }),
    maxPayloadBytes: 8192,
    batchSize: 50,
    maxWaitMs: 2,
    maxCommitsInFlight: 1,
  });
  try {
    const topic = topicFor(address, 'results');
    const submitted: Promise<string>[] = [];
    for (let i = 0; i < 600; i++) {
      submitted.push(ingest.submit(topic, encodeMessage(syntheticResult(address, i)), 'edge-1'));
      if (i % 25 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok((await Promise.all(submitted)).every((o) => o === 'stored'));
    assert.equal(await state.countResults(), 600);
    assert.equal(mostInFlight, 1, 'never two commits at once');
    assert.equal(
      batchSizes.reduce((a, b) => a + b, 0),
      600,
    );
    assert.ok(Math.max(...batchSizes) > 50, `a batch grew past batchSize while one committed: ${batchSizes.join(' ')}`);
  } finally {
    await ingest.close();
    await state.close();
    await history.close();
    dir.remove();
  }
});
