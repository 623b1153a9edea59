import assert from 'node:assert/strict';
import { test } from 'node:test';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { decodeMessage, encodeMessage } from '../src/message-codec.js';
import { topicFor } from '../src/topics.js';

const address = { clinicId: 'clinic-a', deviceId: 'edge-1' };
const topic = topicFor(address, 'results');

test('a valid result decodes with its kind and topic identity', () => {
  const result = syntheticResult(address, 1);
  const decoded = decodeMessage(topic, encodeMessage(result), 65536);
  assert.equal(decoded.kind, 'results');
  assert.deepEqual(decoded.message, result);
});

test('non-JSON and invalid UTF-8 payloads are VIGIL_PAYLOAD_NOT_JSON', () => {
  assert.throws(() => decodeMessage(topic, Buffer.from('{"schema":'), 65536), { code: 'VIGIL_PAYLOAD_NOT_JSON' });
  assert.throws(() => decodeMessage(topic, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 65536), { code: 'VIGIL_PAYLOAD_NOT_JSON' });
});

test('a schema violation names the offending field', () => {
  const bad = { ...syntheticResult(address, 2), score: 1.7 };
  assert.throws(
    () => decodeMessage(topic, encodeMessage(bad), 65536),
    (error: Error & { code?: string }) => error.code === 'VIGIL_PAYLOAD_SCHEMA' && /\/score/.test(error.message),
  );
  const extra = { ...syntheticResult(address, 3), patientName: 'DOE^JANE' };
  assert.throws(() => decodeMessage(topic, encodeMessage(extra), 65536), { code: 'VIGIL_PAYLOAD_SCHEMA' });
});

test('oversized payloads are refused before parsing', () => {
  assert.throws(() => decodeMessage(topic, Buffer.alloc(2048, 0x20), 1024), { code: 'VIGIL_PAYLOAD_OVERSIZED' });
});

test('a payload naming another device than its topic is refused', () => {
  const other = syntheticResult({ clinicId: 'clinic-a', deviceId: 'edge-2' }, 4);
  assert.throws(() => decodeMessage(topic, encodeMessage(other), 65536), { code: 'VIGIL_PAYLOAD_IDENTITY_MISMATCH' });
});

test('a telemetry payload on a results topic fails the results schema', () => {
  const telemetry = { schema: 'vigil.telemetry/1', messageId: 'abcdefgh12', ...address };
  assert.throws(() => decodeMessage(topic, encodeMessage(telemetry), 65536), { code: 'VIGIL_PAYLOAD_SCHEMA' });
});
