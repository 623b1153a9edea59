// The external-broker consumer lets mqtt.js go on to the next message while it holds each PUBACK
// until the message's commit (issue 13): acknowledgements must still follow commits, go out in the
// order the messages came, and stop at a failed commit, whose message the broker then redelivers.
// Against a real broker (aedes on a free loopback port) with a persistent session.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { freePort } from '../../scripts/harness/free-port.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { pipelineAcks } from '../src/broker/external-consumer.js';

function deferred() {
  let resolve = () => {};
  let reject = (_e: Error) => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

test('PUBACKs wait for their commits, go out in arrival order, and stop at a failed commit (redelivered)', async () => {
  const broker = await Aedes.createBroker();
  const port = await freePort();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const acked: string[] = [];
  broker.on('ack', (packet) => {
    if (packet && 'payload' in packet) acked.push(String(packet.payload));
  });
  const url = `mqtt://127.0.0.1:${port}`;
  const consumer = await mqtt.connectAsync(url, { clientId: 'hub-0', clean: false, reconnectPeriod: 100 });
  const commits = new Map<string, ReturnType<typeof deferred>>();
  const received: string[] = [];
  const commitOf = pipelineAcks(consumer);
  consumer.handleMessage = (packet, callback) => {
    const body = String(packet.payload);
    received.push(body);
    const d = deferred();
    commits.set(`${body}#${received.filter((r) => r === body).length}`, d);
    if (packet.messageId !== undefined) commitOf.set(packet.messageId, d.promise);
    callback();
  };
  await consumer.subscribeAsync('t/#', { qos: 1 });
  const device = await mqtt.connectAsync(url, { clientId: 'device' });
  try {
    for (const m of ['m1', 'm2', 'm3', 'm4']) await device.publishAsync('t/x', m, { qos: 1 });
    await waitFor('all four handed to ingest without waiting for any commit', () => received.length === 4);
    assert.deepEqual(acked, [], 'nothing acknowledged before a commit');

    commits.get('m2#1')?.resolve();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(acked, [], 'm2 committed first but waits for m1');
    commits.get('m1#1')?.resolve();
    await waitFor('m1 and m2 acknowledged, in order', () => acked.length === 2);
    assert.deepEqual(acked, ['m1', 'm2']);

    // m4 commits, m3 fails: m4 must not be acknowledged; the connection drops and both come again.
    commits.get('m4#1')?.resolve();
    commits.get('m3#1')?.reject(new Error('commit failed'));
    await waitFor('m3 and m4 redelivered after the reconnection', () => commits.has('m3#2') && commits.has('m4#2'));
    assert.deepEqual(acked, ['m1', 'm2'], 'nothing after the failed commit was acknowledged');
    commits.get('m3#2')?.resolve();
    commits.get('m4#2')?.resolve();
    await waitFor('m3 and m4 acknowledged on the new connection', () => acked.length === 4);
    assert.deepEqual(acked, ['m1', 'm2', 'm3', 'm4']);
  } finally {
    await device.endAsync();
    await consumer.endAsync(true);
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    server.close();
  }
});
