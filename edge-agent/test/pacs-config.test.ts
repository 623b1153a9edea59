// PACS destinations are one config shape per kind, each with its own sender: defaults fill in per
// kind, a field of the other kind or a missing STOW URL is refused with a coded error at load.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadEdgeConfig } from '../src/config.js';
import { PACS_SENDERS } from '../src/reporting/senders/index.js';

const env = (destinations: unknown[]) => ({
  VIGIL_CLINIC_ID: 'clinic-p',
  VIGIL_DEVICE_ID: 'edge-p',
  VIGIL_MQTT__PASSWORD: 'not-used',
  VIGIL_PACS__ENABLED: 'true',
  VIGIL_PACS__DESTINATIONS: JSON.stringify(destinations),
});

test('pacs.destinations: one shape per kind, defaults per kind, the other kind’s fields refused', () => {
  const config = loadEdgeConfig(
    undefined,
    env([
      { name: 'scp', kind: 'dimse', port: 11112 },
      { name: 'web', kind: 'stow', url: 'https://pacs/dicom-web' },
    ]),
  );
  const [dimse, stow] = config.pacs.destinations;
  assert.ok(dimse?.kind === 'dimse' && stow?.kind === 'stow');
  assert.deepEqual([dimse.host, dimse.calledAeTitle, dimse.tls.enabled, dimse.maxRefusals], ['127.0.0.1', 'PACS', false, 5]);
  assert.deepEqual([stow.url, stow.tokenFile, stow.timeoutMs], ['https://pacs/dicom-web', '', 30_000]);
  assert.throws(() => loadEdgeConfig(undefined, env([{ name: 'web', kind: 'stow' }])), { code: 'VIGIL_CONFIG_INVALID' });
  assert.throws(() => loadEdgeConfig(undefined, env([{ name: 'web', kind: 'stow', url: 'https://x', port: 104 }])), {
    code: 'VIGIL_CONFIG_INVALID',
  });
  assert.throws(() => loadEdgeConfig(undefined, env([{ name: 'x', kind: 'ftp' }])), { code: 'VIGIL_CONFIG_INVALID' });
  assert.deepEqual(Object.keys(PACS_SENDERS).sort(), ['dimse', 'stow']);
  for (const [kind, sender] of Object.entries(PACS_SENDERS)) assert.equal(sender.kind, kind);
});
