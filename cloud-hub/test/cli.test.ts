import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';

const HUB_BIN = join(import.meta.dirname, '../bin/vigil-hub.mjs');

function hub(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [HUB_BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
}

test('vigil-hub device add / list / revoke / mosquitto-acl', () => {
  const dir = makeTempDir('cli');
  try {
    const env = { VIGIL_DATA_DIR: dir.path };
    const added = hub(['device', 'add', 'clinic-a', 'edge-1', '--tag', 'north', 'gpu'], env);
    assert.equal(added.status, 0, added.stderr);
    const credential = JSON.parse(added.stdout) as { username: string; password: string };
    assert.equal(credential.username, 'edge-1');
    assert.ok(credential.password.length >= 24);

    const duplicate = hub(['device', 'add', 'clinic-a', 'edge-1'], env);
    assert.equal(duplicate.status, 2);
    assert.match(duplicate.stderr, /VIGIL_DEVICE_EXISTS/);
    const badId = hub(['device', 'add', 'clinic/a', 'edge-2'], env);
    assert.match(badId.stderr, /VIGIL_ID_INVALID/);

    const listed = JSON.parse(hub(['device', 'list', '--json'], env).stdout) as {
      deviceId: string;
      tags: string[];
      revokedAt: null;
    };
    assert.deepEqual([listed.deviceId, listed.tags, listed.revokedAt], ['edge-1', ['north', 'gpu'], null]);
    const acl = execFileSync(process.execPath, [HUB_BIN, 'device', 'mosquitto-acl'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.match(acl, /user edge-1\ntopic write vigil\/v1\/clinic-a\/edge-1\/results/);

    assert.equal(hub(['device', 'revoke', 'edge-1'], env).status, 0);
    assert.match(hub(['device', 'list'], env).stdout, /edge-1\trevoked/);
    assert.match(hub(['device', 'revoke', 'nobody'], env).stderr, /VIGIL_DEVICE_UNKNOWN/);
  } finally {
    dir.remove();
  }
});

test('a bad config key stops the hub with a message naming it', () => {
  const result = hub(['serve'], { VIGIL_HTTP__PORT: 'eighty' });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /VIGIL_CONFIG_INVALID: .*VIGIL_HTTP__PORT/);
});

test('vigil-hub user add / list / reset-mfa / disable: the printed credentials log in, then stop working', async () => {
  const dir = makeTempDir('cli-user');
  try {
    const env = { VIGIL_DATA_DIR: dir.path };
    const added = hub(['user', 'add', 'm.lind', '--role', 'clinician', '--display-name', 'Dr. Maria Lind'], env);
    assert.equal(added.status, 0, added.stderr);
    const user = JSON.parse(added.stdout) as {
      password: string;
      totpSecret: string;
      otpauthUri: string;
      recoveryCodes: string[];
    };
    assert.ok(user.password.length >= 16);
    assert.match(user.otpauthUri, /^otpauth:\/\/totp\/Vigil:m\.lind\?secret=[A-Z2-7]+/);
    assert.equal(user.recoveryCodes.length, 10);
    assert.match(added.stderr, /Scan with an authenticator app/);
    const badRole = hub(['user', 'add', 'x.y', '--role', 'superuser'], env);
    assert.equal(badRole.status, 2);
    assert.match(badRole.stderr, /VIGIL_API_INVALID_REQUEST: --role must be one of clinician, ops, admin/);
    assert.match(hub(['user', 'add', 'm.lind', '--role', 'ops'], env).stderr, /VIGIL_USER_EXISTS/);
    assert.deepEqual(JSON.parse(hub(['user', 'list'], env).stdout), {
      username: 'm.lind',
      role: 'clinician',
      mfaEnrolled: true,
      disabled: false,
    });

    const { startTestHub } = await import('../../scripts/harness/hub-fixture.js');
    const { login } = await import('../../scripts/harness/api-client.js');
    const h = await startTestHub({ dataDir: dir.path });
    try {
      assert.equal((await login(h.httpUrl, 'm.lind', user.password, user.totpSecret)).response.status, 200);
      assert.equal(hub(['user', 'reset-mfa', 'm.lind'], env).status, 0);
      const afterReset = await login(h.httpUrl, 'm.lind', user.password, null);
      assert.equal(
        (afterReset.response.body as { mfaEnrolmentRequired: boolean }).mfaEnrolmentRequired,
        true,
        'must enrol again',
      );
      assert.equal(hub(['user', 'disable', 'm.lind'], env).status, 0);
      assert.equal((await login(h.httpUrl, 'm.lind', user.password, null)).response.status, 401);
      assert.equal(hub(['user', 'enable', 'm.lind'], env).status, 0);
      assert.equal((await login(h.httpUrl, 'm.lind', user.password, null)).response.status, 200, 'enabled again');
      // A stored account lock (failures from many addresses) is lifted by `user unlock`.
      await h.hub.state.users.updateUser('m.lind', { lockedUntil: new Date(Date.now() + 3_600_000).toISOString() });
      assert.equal((await login(h.httpUrl, 'm.lind', user.password, null)).response.status, 423);
      assert.equal(hub(['user', 'unlock', 'm.lind'], env).status, 0);
      assert.equal((await login(h.httpUrl, 'm.lind', user.password, null)).response.status, 200, 'unlocked');
      assert.match(hub(['user', 'disable', 'nobody.here'], env).stderr, /VIGIL_USER_UNKNOWN/);
    } finally {
      await h.stop();
    }
  } finally {
    dir.remove();
  }
});

test('vigil-hub model keygen / sign / publish / list, with vigil-edge model pack', async () => {
  const dir = makeTempDir('cli-model');
  try {
    const { phantomImages, BUNDLED_MODEL } = await import('../../scripts/harness/model-packages.js');
    const { chmodSync, statSync } = await import('node:fs');
    const env = {
      VIGIL_DATA_DIR: join(dir.path, 'hub'),
      VIGIL_MODELS__TRUSTED_KEYS_FILE: join(dir.path, 'keys', 'signing-key.pub.pem'),
    };
    const keygen = hub(['model', 'keygen', '--out', join(dir.path, 'keys')], env);
    assert.equal(keygen.status, 0, keygen.stderr);
    const { keyId, privateKey } = JSON.parse(keygen.stdout) as { keyId: string; privateKey: string };
    assert.match(keyId, /^[0-9a-f]{16}$/);
    assert.equal(statSync(privateKey).mode & 0o777, 0o600);
    assert.match(hub(['model', 'keygen', '--out', join(dir.path, 'keys')], env).stderr, /refusing to overwrite/);

    const [reference] = await phantomImages(join(dir.path, 'ref'), 1, 5);
    const pkg = join(dir.path, 'vigil-demo-0.4.0.vpkg');
    const EDGE_BIN = join(import.meta.dirname, '../../edge-agent/bin/vigil-edge.mjs');
    const packed = spawnSync(
      process.execPath,
      [EDGE_BIN, 'model', 'pack', BUNDLED_MODEL, '--reference', reference as string, '--out', pkg, '--package-version', '0.4.0'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(packed.status, 0, packed.stderr);
    assert.equal((JSON.parse(packed.stdout) as { version: string }).version, '0.4.0');

    chmodSync(privateKey, 0o644);
    assert.match(hub(['model', 'sign', pkg, '--key', privateKey], env).stderr, /readable by others/);
    chmodSync(privateKey, 0o600);
    const signed = hub(['model', 'sign', pkg, '--key', privateKey], env);
    assert.equal(signed.status, 0, signed.stderr);
    assert.equal((JSON.parse(signed.stdout) as { keyId: string; version: string }).keyId, keyId);

    const published = hub(['model', 'publish', pkg], env);
    assert.equal(published.status, 0, published.stderr);
    assert.deepEqual(
      (JSON.parse(hub(['model', 'list'], env).stdout) as { name: string; version: string; keyId: string }).version,
      '0.4.0',
    );
    // A hub that does not trust the key refuses the package.
    const distrust = hub(['model', 'publish', pkg], { VIGIL_DATA_DIR: join(dir.path, 'other') });
    assert.equal(distrust.status, 2);
    assert.match(distrust.stderr, /VIGIL_MODEL_SIGNATURE_INVALID/);
  } finally {
    dir.remove();
  }
});
