import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { Outbox, type OutboxMessage } from '../src/outbox/outbox.js';

function message(kind: 'results' | 'telemetry', id: string, bytes = 100): OutboxMessage {
  return { messageId: id, kind, topic: `vigil/v1/c/d/${kind}`, payload: Buffer.alloc(bytes, 0x61) };
}

test('messages survive closing and reopening, in order, and are deleted only after ack', () => {
  const dir = makeTempDir('outbox');
  try {
    const path = join(dir.path, 'outbox.sqlite');
    let outbox = new Outbox({ path, maxBytes: 1e6 });
    for (let i = 0; i < 5; i++) assert.equal(outbox.enqueue(message('results', `r-${i}`)), true);
    outbox.close();
    outbox = new Outbox({ path, maxBytes: 1e6 });
    const stored = outbox.after(0, 10);
    assert.deepEqual(
      stored.map((m) => m.messageId),
      ['r-0', 'r-1', 'r-2', 'r-3', 'r-4'],
    );
    outbox.ack(stored[0]?.seq ?? -1, 100);
    outbox.ack(stored[1]?.seq ?? -1, 100);
    assert.deepEqual(
      outbox.after(0, 10).map((m) => m.messageId),
      ['r-2', 'r-3', 'r-4'],
      'acked messages are not handed out again',
    );
    outbox.close();
    outbox = new Outbox({ path, maxBytes: 1e6 });
    assert.equal(outbox.stats().depth, 3);
    assert.equal(outbox.stats().bytes, 300);
    outbox.close();
  } finally {
    dir.remove();
  }
});

test('the same message id is queued once', () => {
  const dir = makeTempDir('outbox');
  try {
    const outbox = new Outbox({ path: join(dir.path, 'o.sqlite'), maxBytes: 1e6 });
    assert.equal(outbox.enqueue(message('results', 'same')), true);
    assert.equal(outbox.enqueue(message('results', 'same')), false);
    assert.equal(outbox.stats().depth, 1);
    outbox.close();
  } finally {
    dir.remove();
  }
});

test('at the byte limit the oldest telemetry is evicted first and results are never evicted', () => {
  const dir = makeTempDir('outbox');
  try {
    const outbox = new Outbox({ path: join(dir.path, 'o.sqlite'), maxBytes: 1000 });
    outbox.enqueue(message('telemetry', 't-0'));
    outbox.enqueue(message('results', 'r-0'));
    for (let i = 1; i < 8; i++) outbox.enqueue(message('telemetry', `t-${i}`));
    assert.equal(outbox.stats().bytes, 900);
    // 300 more bytes of results need 200 bytes freed: the two oldest telemetry rows go.
    outbox.enqueue(message('results', 'r-1', 300));
    const ids = outbox.after(0, 100).map((m) => m.messageId);
    assert.deepEqual(ids, ['r-0', 't-2', 't-3', 't-4', 't-5', 't-6', 't-7', 'r-1']);
    assert.equal(outbox.stats().evictedTelemetry, 2);
    assert.ok(outbox.stats().bytes <= 1000);
    outbox.close();
  } finally {
    dir.remove();
  }
});

test('when only results fill the outbox a new result is refused with VIGIL_OUTBOX_FULL, nothing is dropped', () => {
  const dir = makeTempDir('outbox');
  try {
    const outbox = new Outbox({ path: join(dir.path, 'o.sqlite'), maxBytes: 1000 });
    for (let i = 0; i < 10; i++) outbox.enqueue(message('results', `r-${i}`));
    assert.throws(() => outbox.enqueue(message('results', 'r-10')), { code: 'VIGIL_OUTBOX_FULL' });
    assert.throws(() => outbox.enqueue(message('telemetry', 't-0')), { code: 'VIGIL_OUTBOX_FULL' });
    assert.equal(outbox.stats().results, 10);
    assert.equal(outbox.stats().evictedTelemetry, 1, 'the refused telemetry sample is counted');
    // After the hub acknowledged some, there is room again.
    for (const m of outbox.after(0, 3)) outbox.ack(m.seq, m.bytes);
    outbox.flushAcks();
    assert.equal(outbox.enqueue(message('results', 'r-10')), true);
    outbox.close();
  } finally {
    dir.remove();
  }
});

test('stats report depth, per-kind counts and the oldest message age', () => {
  const dir = makeTempDir('outbox');
  try {
    let now = 1_000_000;
    const outbox = new Outbox({ path: join(dir.path, 'o.sqlite'), maxBytes: 1e6, now: () => now });
    outbox.enqueue(message('results', 'r'));
    now += 5000;
    outbox.enqueue(message('telemetry', 't'));
    now += 2500;
    assert.deepEqual(outbox.stats(), { depth: 2, results: 1, telemetry: 1, bytes: 200, oldestAgeS: 7.5, evictedTelemetry: 0 });
    outbox.close();
  } finally {
    dir.remove();
  }
});

test('acknowledged rows awaiting deletion do not hide the rows behind them', () => {
  const dir = makeTempDir('outbox');
  try {
    const outbox = new Outbox({ path: join(dir.path, 'o.sqlite'), maxBytes: 1e6, ackFlushMs: 60_000 });
    for (let i = 0; i < 10; i++) outbox.enqueue(message('results', `r-${i}`));
    for (const m of outbox.after(0, 4)) outbox.ack(m.seq, m.bytes);
    assert.deepEqual(
      outbox.after(0, 3).map((m) => m.messageId),
      ['r-4', 'r-5', 'r-6'],
    );
    outbox.close();
  } finally {
    dir.remove();
  }
});

test('a full disk: telemetry is evicted to make room; when only results remain, VIGIL_OUTBOX_DISK_FULL and nothing lost', () => {
  const dir = makeTempDir('outbox');
  try {
    // The file cap makes SQLite fail with SQLITE_FULL exactly as a full disk does.
    const outbox = new Outbox({ path: join(dir.path, 'o.sqlite'), maxBytes: 1e9, maxFileBytes: 256 * 1024 });
    let telemetry = 0;
    for (; telemetry < 1000; telemetry++) {
      try {
        outbox.enqueue(message('telemetry', `t-${telemetry}`, 4000));
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'VIGIL_OUTBOX_DISK_FULL');
        break;
      }
    }
    assert.ok(telemetry > 10 && telemetry < 1000, `filled after ${telemetry} samples`);
    // A result still fits: the oldest telemetry makes room for it.
    assert.equal(outbox.enqueue(message('results', 'r-0', 4000)), true);
    assert.ok(outbox.stats().evictedTelemetry > 0);
    let results = 1;
    for (; results < 1000; results++) {
      try {
        outbox.enqueue(message('results', `r-${results}`, 4000));
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'VIGIL_OUTBOX_DISK_FULL');
        break;
      }
    }
    assert.ok(results < 1000, 'results are refused once only results remain');
    assert.equal(outbox.stats().results, results, 'every accepted result is still there');
    outbox.close();
  } finally {
    dir.remove();
  }
});
