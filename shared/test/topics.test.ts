import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fleetFilter, parseTopic, sharedFleetFilter, TOPIC_KINDS, topicFor } from '../src/topics.js';

test('topicFor and parseTopic round-trip every kind', () => {
  for (const kind of TOPIC_KINDS) {
    const topic = topicFor({ clinicId: 'clinic-a', deviceId: 'edge_7' }, kind);
    assert.equal(topic, `vigil/v1/clinic-a/edge_7/${kind}`);
    assert.deepEqual(parseTopic(topic), { clinicId: 'clinic-a', deviceId: 'edge_7', kind });
  }
});

test('parseTopic rejects foreign, malformed and wildcard topics with VIGIL_TOPIC_INVALID', () => {
  for (const topic of [
    'vigil/v2/c/d/results',
    'vigil/v1/c/d/unknown',
    'vigil/v1/c/results',
    'vigil/v1/c+/d/results',
    'vigil/v1/c/d/results/extra',
    'other/v1/c/d/results',
    `vigil/v1/${'x'.repeat(65)}/d/results`,
  ]) {
    assert.throws(() => parseTopic(topic), { code: 'VIGIL_TOPIC_INVALID' }, topic);
  }
});

test('fleet filters use single-level wildcards and MQTT 5 shared subscriptions', () => {
  assert.equal(fleetFilter('results'), 'vigil/v1/+/+/results');
  assert.equal(sharedFleetFilter('vigil-hub', 'telemetry'), '$share/vigil-hub/vigil/v1/+/+/telemetry');
});
