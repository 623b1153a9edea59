// The device registry's revocation watch: every revoked device is disconnected at each check; a check
// that cannot read the device list (the store gone) is logged with a code and counted, and does not throw.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '@vigil/shared';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { DeviceRegistry } from '../src/broker/device-registry.js';
import { openStateStore } from '../src/storage/open-state.js';

test('revoked devices are disconnected at each check; a failed check is logged and counted', async () => {
  const dir = makeTempDir('revocation-watch');
  const store = openStateStore({ driver: 'sqlite', path: join(dir.path, 'state.sqlite') });
  await store.open();
  try {
    const registry = new DeviceRegistry(store);
    await registry.add({ clinicId: 'c', deviceId: 'kept' });
    await registry.add({ clinicId: 'c', deviceId: 'gone' });
    await registry.revoke('gone');
    const disconnected: string[] = [];
    const lines: string[] = [];
    let failures = 0;
    const logger = createLogger('test', { level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const watch = registry.watchRevocations({
      intervalMs: 3_600_000,
      disconnect: (id) => disconnected.push(id),
      logger,
      onFailure: () => {
        failures += 1;
      },
    });
    await watch.check();
    assert.deepEqual(disconnected, ['gone']);
    await store.close();
    await watch.check();
    watch.stop();
    assert.equal(failures, 1);
    assert.ok(
      lines.some((l) => /VIGIL_STATE_STORE_UNAVAILABLE/.test(l) && /revocation check failed/.test(l)),
      lines.join(''),
    );
  } finally {
    await store.close().catch(() => undefined);
    dir.remove();
  }
});
