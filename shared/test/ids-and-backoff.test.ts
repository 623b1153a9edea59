import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay } from '../src/backoff.js';
import { isValidId, pseudonym, resultMessageId } from '../src/ids.js';

test('result ids are deterministic per instance and model version', () => {
  const a = resultMessageId('k1', 'vigil-demo', '1.0.0');
  assert.equal(a, resultMessageId('k1', 'vigil-demo', '1.0.0'));
  assert.notEqual(a, resultMessageId('k1', 'vigil-demo', '1.0.1'));
  assert.notEqual(a, resultMessageId('k2', 'vigil-demo', '1.0.0'));
  assert.match(a, /^[0-9a-f]{32}$/);
});

test('pseudonyms depend on the secret and the namespace', () => {
  const p = pseudonym('secret-1', 'patient', 'H1|12345');
  assert.equal(p, pseudonym('secret-1', 'patient', 'H1|12345'));
  assert.notEqual(p, pseudonym('secret-2', 'patient', 'H1|12345'));
  assert.notEqual(p, pseudonym('secret-1', 'study', 'H1|12345'));
  assert.ok(!p.includes('12345'));
});

test('ids are topic-safe', () => {
  assert.ok(isValidId('clinic-01_a'));
  for (const bad of ['', 'a/b', 'a+b', 'a#', 'x'.repeat(65), 'é']) assert.ok(!isValidId(bad), bad);
});

test('backoff grows exponentially, is capped and jittered', () => {
  const policy = { minMs: 100, maxMs: 5000 };
  assert.equal(
    backoffDelay(0, policy, () => 1),
    100,
  );
  assert.equal(
    backoffDelay(3, policy, () => 1),
    800,
  );
  assert.equal(
    backoffDelay(20, policy, () => 1),
    5000,
  );
  assert.equal(
    backoffDelay(20, policy, () => 0),
    100,
  );
  const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(6, policy)));
  assert.ok(spread.size > 10, 'jitter spreads reconnects');
});
