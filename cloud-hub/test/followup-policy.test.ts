// The follow-up defaults are defined once (the engine's policy modules) and the config schema takes
// its defaults from them: a hub on the default configuration runs exactly the policy the alert
// evaluation (`npm run evaluate -- --alerts`, alert-quality.test.ts) measures.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadHubConfig } from '../src/config.js';
import { followupPolicy } from '../src/followup/followup-policy.js';
import { DEFAULT_FOLLOWUP_POLICY } from '../src/followup/followup-service.js';

test('the default configuration yields the policy the alert evaluation uses', () => {
  const config = loadHubConfig(undefined, {}, { dataDir: '/nonexistent-not-opened' });
  assert.deepEqual(followupPolicy(config.followup), DEFAULT_FOLLOWUP_POLICY);
});

test('a configured threshold reaches the engine, and a category list of the wrong length is refused', () => {
  const config = loadHubConfig(
    undefined,
    {},
    { dataDir: '/nonexistent-not-opened', followup: { growthMinMm: 3, graceDays: 10 } },
  );
  const policy = followupPolicy(config.followup);
  assert.equal(policy.change.growthMinMm, 3);
  assert.equal(policy.overdue.graceDays, 10);
  assert.throws(() => followupPolicy({ ...config.followup, categoryThresholds: [0.1, 0.2] }), /categoryThresholds: 4 values/);
  assert.throws(
    () => loadHubConfig(undefined, {}, { dataDir: '/x', followup: { intervalMonths: [12, 6] } }),
    /VIGIL_CONFIG_INVALID|intervalMonths/,
  );
});
