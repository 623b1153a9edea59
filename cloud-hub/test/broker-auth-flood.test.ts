// wrong-password MQTT CONNECTs against a real hub, from real MQTT clients. What an
// unauthenticated peer can make the hub hash is bounded, unknown ids cost what known ids cost, and a
// dashboard login and the real device still get through during the flood.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { provisionUser } from '@vigil/cloud-hub';
import mqtt from 'mqtt';
import { login } from '../../scripts/harness/api-client.js';
import { startTestHub } from '../../scripts/harness/hub-fixture.js';
import { DEVICE_AUTH_LIMITS } from '../src/broker/device-registry.js';

function connectCode(url: string, options: mqtt.IClientOptions): Promise<number> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 120_000, ...options });
    client.once('connect', () => {
      client.end(true);
      resolve(0);
    });
    client.once('error', (error) => {
      client.end(true);
      resolve((error as { code?: number }).code ?? -1);
    });
    client.once('close', () => resolve(-1));
  });
}

test('60 parallel wrong CONNECTs per id cost a bounded number of argon2 runs; unknown ids cost the same', async () => {
  const t = await startTestHub();
  try {
    const password = await t.addDevice('clinic-a', 'edge-1');
    const user = await provisionUser(t.hub.auth, t.hub.state.audit, {
      username: 'ops1',
      role: 'ops',
      enrolTotp: true,
      actor: 'test',
    });
    const registry = t.hub.registry;
    // The real device connected before the attack (as it does, every few seconds, in service).
    assert.equal(await connectCode(t.mqttUrl, { clientId: 'edge-1', username: 'edge-1', password }), 0);

    // One wrong attempt each: a known id and an unknown one cost exactly one hash.
    const before = registry.hashesComputed;
    assert.equal(await connectCode(t.mqttUrl, { clientId: 'edge-1', username: 'edge-1', password: 'wrong-password-000' }), 4);
    assert.equal(registry.hashesComputed, before + 1, 'a known id costs one hash');
    assert.equal(await connectCode(t.mqttUrl, { clientId: 'ghost-0', username: 'ghost-0', password: 'wrong-password-000' }), 4);
    assert.equal(registry.hashesComputed, before + 2, 'an unknown id costs the same one hash');

    // The flood: 60 parallel wrong CONNECTs for the known id and 60 for an unknown one, with a
    // dashboard login in the middle of it.
    const start = registry.hashesComputed;
    const flood = [
      ...Array.from({ length: 60 }, (_, i) =>
        connectCode(t.mqttUrl, { clientId: 'edge-1', username: 'edge-1', password: `wrong-password-${i}` }),
      ),
      ...Array.from({ length: 60 }, (_, i) =>
        connectCode(t.mqttUrl, { clientId: 'ghost-1', username: 'ghost-1', password: `wrong-password-${i}` }),
      ),
    ];
    const { response } = await login(t.httpUrl, 'ops1', user.password, user.totpSecret);
    assert.equal(response.status, 200, 'the dashboard login gets through during the flood');
    const codes = await Promise.all(flood);
    assert.ok(
      codes.every((c) => c === 4 || c === -1),
      `every flood attempt refused: ${[...new Set(codes)].join(',')}`,
    );
    const hashed = registry.hashesComputed - start;
    // Each id is refused without hashing once it has failed perDevice times (the address limit is
    // higher); one more may have been admitted by the gate before the lock took effect.
    assert.ok(hashed <= 2 * (DEVICE_AUTH_LIMITS.perDevice + 1), `hashes during the flood: ${hashed} (was 120 before the fix)`);

    // The real device, with the password it proved before, still connects while its id is locked
    // out for everyone else (accepted from the verified cache, without a hash).
    const hashesBefore = registry.hashesComputed;
    assert.equal(await connectCode(t.mqttUrl, { clientId: 'edge-1', username: 'edge-1', password }), 0);
    assert.equal(registry.hashesComputed, hashesBefore);
  } finally {
    await t.stop();
  }
});
