// End-to-end receipts (issue 13): through an external broker, an edge deletes a result only when the
// hub's receipt says it is committed. Mosquitto killed with SIGKILL loses what it queued for the hub;
// the edge with receipts resends and loses nothing, the edge that trusts the broker's PUBACK loses
// it (the control). A device cannot read another device's receipts or forge one, and a receipt
// naming ids the device is not waiting for changes nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, test } from 'node:test';
import { EdgeAgent } from '@vigil/edge-agent';
import { encodeMessage, newMessageId, RECEIPT_SCHEMA, type ReceiptMessage, topicFor, VigilError } from '@vigil/shared';
import mqtt from 'mqtt';
import { edgeConfig, startTestHub } from '../../scripts/harness/hub-fixture.js';
import { MosquittoServer, startMosquittoForDevices } from '../../scripts/harness/mosquitto.js';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import type { ExternalConsumer } from '../src/broker/external-consumer.js';
import { RECEIPT_MAX_IDS, receiptsFor, rejectedResult } from '../src/ingest/receipts.js';

describe('receipts (pure)', () => {
  it('one receipt per device naming its committed and rejected results, split at the schema bound', () => {
    const a = { clinicId: 'clinic-a', deviceId: 'edge-a' };
    const b = { clinicId: 'clinic-b', deviceId: 'edge-b' };
    const results = [...Array.from({ length: RECEIPT_MAX_IDS + 5 }, (_, i) => syntheticResult(a, i)), syntheticResult(b, 0)];
    const rejected = [{ ...b, messageId: 'bad-result-1', reason: { code: 'VIGIL_PAYLOAD_SCHEMA', message: 'no score' } }];
    const receipts = receiptsFor(results, rejected);
    assert.deepEqual(
      receipts.map((r) => [r.deviceId, r.committed.length, r.rejected?.length ?? 0]),
      [
        ['edge-a', RECEIPT_MAX_IDS, 0],
        ['edge-a', 5, 0],
        ['edge-b', 1, 1],
      ],
    );
    assert.ok(receipts.every((r) => r.schema === RECEIPT_SCHEMA && r.messageId.length >= 8));
    assert.deepEqual(receiptsFor([], []), []);
  });

  it('a dead-lettered payload is named only when it is a device result with a message id', () => {
    const error = new VigilError('VIGIL_PAYLOAD_SCHEMA', 'score missing');
    const topic = topicFor({ clinicId: 'c1', deviceId: 'd1' }, 'results');
    assert.deepEqual(rejectedResult(topic, Buffer.from('{"messageId":"abcdefgh12"}'), error), {
      clinicId: 'c1',
      deviceId: 'd1',
      messageId: 'abcdefgh12',
      reason: { code: 'VIGIL_PAYLOAD_SCHEMA', message: 'score missing' },
    });
    assert.equal(rejectedResult(topic, Buffer.from('not json'), error), undefined);
    assert.equal(rejectedResult(topic, Buffer.from('{"messageId":"x"}'), error), undefined);
    assert.equal(
      rejectedResult(topicFor({ clinicId: 'c1', deviceId: 'd1' }, 'telemetry'), Buffer.from('{"messageId":"abcdefgh12"}'), error),
      undefined,
    );
  });
});

test('a broker crash loses only what edges without receipts trusted it with; receipts cannot be read or forged by another device', async () => {
  const dir = makeTempDir('receipts');
  const mosquitto = new MosquittoServer();
  const devices = [
    { clinicId: 'clinic-a', deviceId: 'edge-a', password: 'edge-a-password' },
    { clinicId: 'clinic-b', deviceId: 'edge-b', password: 'edge-b-password' },
  ];
  await startMosquittoForDevices(mosquitto, devices);
  const t = await startTestHub({
    mqtt: {
      mode: 'external',
      listen: { enabled: false },
      external: { url: mosquitto.url, username: 'vigil-hub', password: 'hub-password-1', group: '' },
    },
  });
  const consumer = t.hub.transport as ExternalConsumer;
  const [withReceipts, withoutReceipts] = devices.map(
    (d, i) =>
      new EdgeAgent(
        edgeConfig(
          { ...d, mqttUrl: mosquitto.url, dataDir: join(dir.path, d.deviceId) },
          {
            VIGIL_MQTT__PROTOCOL_VERSION: '5',
            // edge-a waits for the hub's receipts; edge-b trusts the broker's PUBACK (the control).
            VIGIL_MQTT__RECEIPTS: i === 0 ? 'true' : 'false',
            VIGIL_MQTT__RECEIPT_TIMEOUT_MS: '1000',
            VIGIL_MQTT__RECEIPT_MAX_TIMEOUT_MS: '4000',
          },
        ),
      ),
  ) as [EdgeAgent, EdgeAgent];
  const stored = async (deviceId: string) =>
    (await t.hub.state.queryResults({ deviceId, limit: 10_000 })).items.map((r) => r.messageId);
  const spies: mqtt.MqttClient[] = [];
  try {
    await withReceipts.start();
    await withoutReceipts.start();
    // Receipts flow: every result stored once, and the edge's outbox empties only by receipts.
    const first = Array.from({ length: 200 }, (_, i) => syntheticResult(withReceipts.address, i));
    for (const r of first) withReceipts.submitResult(r);
    await waitFor('edge-a confirmed by receipts', () => withReceipts.publisher.confirmed === 200);
    // The outbox deletes acknowledged rows in batches: wait for the flush.
    await waitFor('edge-a’s outbox empty', () => withReceipts.outbox.stats().results === 0);
    assert.deepEqual((await stored('edge-a')).sort(), first.map((r) => r.messageId).sort());

    // The hub stops consuming; the broker takes both edges' results and acknowledges them…
    await consumer.stop();
    const lostA = Array.from({ length: 300 }, (_, i) => syntheticResult(withReceipts.address, 1000 + i));
    const lostB = Array.from({ length: 300 }, (_, i) => syntheticResult(withoutReceipts.address, 1000 + i));
    for (const r of lostA) withReceipts.submitResult(r);
    for (const r of lostB) withoutReceipts.submitResult(r);
    await waitFor('the broker acknowledged every result', () =>
      withReceipts.publisher.awaitingReceipts >= 300 ? withoutReceipts.outbox.stats().results === 0 : false,
    );
    // …and crashes before delivering them to the hub.
    await mosquitto.stop('SIGKILL');
    await mosquitto.start();
    await consumer.start();

    await waitFor('edge-a resent and was confirmed', () => withReceipts.publisher.confirmed === 500, 60_000);
    const a = await stored('edge-a');
    assert.equal(a.length, 500, 'each of edge-a’s results stored exactly once');
    assert.deepEqual(new Set(a), new Set([...first, ...lostA].map((r) => r.messageId)));
    // The outbox deletes acknowledged rows in batches: wait for the flush.
    await waitFor('edge-a’s outbox empty', () => withReceipts.outbox.stats().results === 0);
    // The control: what edge-b trusted to the broker's PUBACK died with the broker.
    const b = await stored('edge-b');
    assert.equal(b.filter((id) => lostB.some((r) => r.messageId === id)).length, 0, 'the crash really lost the queue');

    // Another device can neither read edge-a's receipts nor forge one.
    const spy = await mqtt.connectAsync(mosquitto.url, {
      clientId: 'edge-b-spy',
      username: 'edge-b',
      password: 'edge-b-password',
      protocolVersion: 5,
    });
    spies.push(spy);
    const overheard: string[] = [];
    spy.on('message', (topic) => overheard.push(topic));
    await spy.subscribeAsync(topicFor(withReceipts.address, 'receipts'), { qos: 1 }).catch(() => undefined);
    await consumer.stop();
    const pending = Array.from({ length: 50 }, (_, i) => syntheticResult(withReceipts.address, 5000 + i));
    for (const r of pending) withReceipts.submitResult(r);
    await waitFor('edge-a waits for 50 receipts', () => withReceipts.publisher.awaitingReceipts === 50);
    const forged = (committed: string[]): Buffer =>
      encodeMessage({
        schema: RECEIPT_SCHEMA,
        messageId: newMessageId(),
        ...withReceipts.address,
        issuedAt: new Date().toISOString(),
        committed,
      } satisfies ReceiptMessage);
    await spy
      .publishAsync(topicFor(withReceipts.address, 'receipts'), forged(pending.map((r) => r.messageId)), { qos: 1 })
      .catch(() => undefined);
    // A receipt from the hub's own account naming ids edge-a never sent (a stale or confused sender).
    const hubAccount = await mqtt.connectAsync(mosquitto.url, {
      clientId: 'stale-hub',
      username: 'vigil-hub',
      password: 'hub-password-1',
      protocolVersion: 5,
    });
    spies.push(hubAccount);
    const unknownBefore = withReceipts.publisher.unknownReceiptIds;
    await hubAccount.publishAsync(topicFor(withReceipts.address, 'receipts'), forged(['unknown-id-1', 'unknown-id-2']), {
      qos: 1,
    });
    await waitFor('the unknown ids reached edge-a', () => withReceipts.publisher.unknownReceiptIds === unknownBefore + 2);
    assert.equal(withReceipts.publisher.awaitingReceipts, 50, 'neither receipt released a result');
    assert.equal(withReceipts.outbox.stats().results, 50, 'the outbox still holds every unconfirmed result');
    assert.deepEqual(overheard, [], 'edge-b heard nothing on edge-a’s receipts topic');

    await consumer.start();
    await waitFor(
      'the held results confirmed once the hub consumes again',
      () => withReceipts.outbox.stats().results === 0,
      60_000,
    );
    assert.equal((await stored('edge-a')).length, 550);
  } finally {
    for (const c of spies) await c.endAsync().catch(() => undefined);
    await withReceipts.stop();
    await withoutReceipts.stop();
    await t.stop();
    await mosquitto.dispose();
    dir.remove();
  }
});
