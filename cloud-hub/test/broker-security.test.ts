import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encodeMessage, topicFor } from '@vigil/shared';
import mqtt from 'mqtt';
import { startTestHub, type TestHub } from '../../scripts/harness/hub-fixture.js';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { waitFor } from '../../scripts/harness/wait-for.js';

let t: TestHub;
let password: string;

before(async () => {
  t = await startTestHub();
  password = await t.addDevice('clinic-a', 'edge-1');
  await t.addDevice('clinic-a', 'edge-2');
});
after(async () => {
  await t.stop();
});

function connect(options: mqtt.IClientOptions): Promise<{ client: mqtt.MqttClient; error?: Error & { code?: number } }> {
  return new Promise((resolve) => {
    // The timeout only bounds a hang: on a loaded machine an argon2 check can take seconds.
    const client = mqtt.connect(t.mqttUrl, { reconnectPeriod: 0, connectTimeout: 60_000, ...options });
    client.once('connect', () => resolve({ client }));
    client.once('error', (error) => {
      client.end(true);
      resolve({ client, error: error as Error & { code?: number } });
    });
  });
}

test('a wrong password is refused with CONNACK 4 and counted', async () => {
  const { error } = await connect({ clientId: 'edge-1', username: 'edge-1', password: 'wrong-password-123' });
  assert.equal(error?.code, 4);
  const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text();
  assert.match(metrics, /vigil_mqtt_auth_failures_total\{code="VIGIL_MQTT_AUTH_FAILED"\} [1-9]/);
});

test('an unknown device and an empty password are refused', async () => {
  assert.equal((await connect({ clientId: 'ghost', username: 'ghost', password: 'whatever-123456' })).error?.code, 4);
  assert.equal((await connect({ clientId: 'edge-1', username: 'edge-1' })).error?.code, 4);
});

test('a client id that differs from the device id is refused', async () => {
  const { error } = await connect({ clientId: 'someone-else', username: 'edge-1', password });
  assert.equal(error?.code, 5);
});

test("publishing to another device's topic closes the connection and stores nothing", async () => {
  const { client, error } = await connect({ clientId: 'edge-1', username: 'edge-1', password });
  assert.equal(error, undefined);
  const forged = syntheticResult({ clinicId: 'clinic-a', deviceId: 'edge-2' }, 1);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.publish(topicFor({ clinicId: 'clinic-a', deviceId: 'edge-2' }, 'results'), encodeMessage(forged), { qos: 1 });
  await closed;
  client.end(true);
  assert.equal(await t.hub.state.getResult(forged.messageId), undefined);
  const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text();
  assert.match(metrics, /vigil_mqtt_acl_denied_total\{action="publish"\} [1-9]/);
});

test("subscribing to other devices' data is refused; own model/desired is granted", async () => {
  const { client, error } = await connect({ clientId: 'edge-1', username: 'edge-1', password });
  assert.ifError(error);
  const suback = new Promise<number[]>((resolve) =>
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'suback') resolve(packet.granted as number[]);
    }),
  );
  client.subscribe(
    ['vigil/v1/+/+/results', 'vigil/v1/clinic-a/edge-2/model/desired', 'vigil/v1/clinic-a/edge-1/model/desired'],
    { qos: 1 },
    () => undefined,
  );
  assert.deepEqual(await suback, [128, 128, 1]);
  await client.endAsync();
});

test('a revoked device is refused at its next connect', async () => {
  const pw = await t.addDevice('clinic-a', 'edge-revoked');
  assert.equal((await connect({ clientId: 'edge-revoked', username: 'edge-revoked', password: pw })).error, undefined);
  await t.hub.registry.revoke('edge-revoked');
  assert.equal((await connect({ clientId: 'edge-revoked', username: 'edge-revoked', password: pw })).error?.code, 4);
});

test('a device connection dying uncleanly publishes its retained offline status (last will)', async () => {
  const pw = await t.addDevice('clinic-a', 'edge-lwt');
  const will = {
    schema: 'vigil.status/1',
    messageId: 'will-0000001',
    clinicId: 'clinic-a',
    deviceId: 'edge-lwt',
    state: 'offline',
    at: new Date(Date.now() + 1000).toISOString(),
    agentVersion: 'test',
  };
  const online = { ...will, messageId: 'online-00001', state: 'online', at: new Date().toISOString() };
  const { client: device, error } = await connect({
    clientId: 'edge-lwt',
    username: 'edge-lwt',
    password: pw,
    will: {
      topic: topicFor({ clinicId: 'clinic-a', deviceId: 'edge-lwt' }, 'status'),
      payload: encodeMessage(will),
      qos: 1,
      retain: true,
    },
  });
  assert.ifError(error);
  await device.publishAsync(topicFor({ clinicId: 'clinic-a', deviceId: 'edge-lwt' }, 'status'), encodeMessage(online), {
    qos: 1,
  });
  const stateOf = async () => (await t.hub.state.listDeviceStates()).find((s) => s.deviceId === 'edge-lwt')?.status;
  assert.equal(await stateOf(), 'online');
  device.stream.destroy();
  await waitFor('offline status from the last will', async () => (await stateOf()) === 'offline', 60_000);
  device.end(true);
});

test('a device that disconnects cleanly without a will or an offline status shows offline', async () => {
  const pw = await t.addDevice('clinic-a', 'edge-quiet');
  const address = { clinicId: 'clinic-a', deviceId: 'edge-quiet' };
  const online = {
    schema: 'vigil.status/1',
    messageId: 'quiet-online-1',
    ...address,
    state: 'online',
    at: new Date().toISOString(),
    agentVersion: '9.9.9',
  };
  const { client: device, error } = await connect({ clientId: 'edge-quiet', username: 'edge-quiet', password: pw });
  assert.ifError(error);
  await device.publishAsync(topicFor(address, 'status'), encodeMessage(online), { qos: 1 });
  const stateOf = async () => (await t.hub.state.listDeviceStates()).find((s) => s.deviceId === 'edge-quiet');
  assert.equal((await stateOf())?.status, 'online');
  // A clean MQTT DISCONNECT: the broker publishes no will, and the device said nothing.
  await device.endAsync();
  await waitFor('offline after the connection ended', async () => (await stateOf())?.status === 'offline', 60_000);
  assert.equal((await stateOf())?.agentVersion, '9.9.9', 'the last reported agent version is kept');
});
