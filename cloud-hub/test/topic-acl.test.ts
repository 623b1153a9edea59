import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canDevicePublish, canDeviceSubscribe } from '../src/broker/topic-acl.js';

const me = { clinicId: 'clinic-a', deviceId: 'edge-1' };

test('a device may publish its own results, telemetry, status and model reports', () => {
  for (const kind of ['results', 'telemetry', 'status', 'model/reported']) {
    assert.ok(canDevicePublish(me, `vigil/v1/clinic-a/edge-1/${kind}`), kind);
  }
});

test("a device may not publish another device's or clinic's topics, nor hub-to-edge topics", () => {
  for (const topic of [
    'vigil/v1/clinic-a/edge-2/results',
    'vigil/v1/clinic-b/edge-1/results',
    'vigil/v1/clinic-a/edge-1/model/desired',
    'vigil/v1/clinic-a/edge-1/other',
    'vigil/v1/clinic-a/edge-10/results',
    '$SYS/broker',
  ]) {
    assert.ok(!canDevicePublish(me, topic), topic);
  }
});

test('a device may subscribe only to its own model/desired, never with wildcards', () => {
  assert.ok(canDeviceSubscribe(me, 'vigil/v1/clinic-a/edge-1/model/desired'));
  for (const filter of [
    'vigil/v1/clinic-a/edge-1/results',
    'vigil/v1/clinic-a/+/model/desired',
    'vigil/v1/clinic-a/edge-1/#',
    'vigil/v1/#',
    '#',
    'vigil/v1/clinic-a/edge-2/model/desired',
    '$share/g/vigil/v1/clinic-a/edge-1/model/desired',
  ]) {
    assert.ok(!canDeviceSubscribe(me, filter), filter);
  }
});
