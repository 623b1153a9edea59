import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { configEnvNames, envNameFor, loadConfig } from '../src/config-loader.js';

const Schema = Type.Object(
  {
    name: Type.String({ default: 'vigil' }),
    mqtt: Type.Object(
      {
        url: Type.String({ pattern: '^mqtts?://', default: 'mqtt://127.0.0.1:1883' }),
        keepaliveS: Type.Integer({ minimum: 5, default: 30 }),
        tls: Type.Boolean({ default: false }),
        protocolVersion: Type.Union([Type.Literal(4), Type.Literal(5)], { default: 4 }),
      },
      { additionalProperties: false, default: {} },
    ),
    tags: Type.Array(Type.String(), { default: [] }),
  },
  { additionalProperties: false },
);

test('env names: nested keys joined by __, camelCase split by _', () => {
  assert.equal(envNameFor(['mqtt', 'keepaliveS']), 'VIGIL_MQTT__KEEPALIVE_S');
  assert.deepEqual(configEnvNames(Schema), [
    'VIGIL_NAME',
    'VIGIL_MQTT__URL',
    'VIGIL_MQTT__KEEPALIVE_S',
    'VIGIL_MQTT__TLS',
    'VIGIL_MQTT__PROTOCOL_VERSION',
    'VIGIL_TAGS',
  ]);
});

test('defaults fill an empty config, and the result is frozen', () => {
  const config = loadConfig(Schema, { env: {} });
  assert.deepEqual(config, {
    name: 'vigil',
    mqtt: { url: 'mqtt://127.0.0.1:1883', keepaliveS: 30, tls: false, protocolVersion: 4 },
    tags: [],
  });
  assert.ok(Object.isFrozen(config.mqtt));
});

test('YAML file, then environment, override defaults', () => {
  const dir = makeTempDir('config');
  try {
    const file = join(dir.path, 'edge.yaml');
    writeFileSync(file, 'name: clinic\nmqtt:\n  keepaliveS: 60\n');
    const config = loadConfig(Schema, {
      file,
      env: { VIGIL_MQTT__KEEPALIVE_S: '90', VIGIL_MQTT__TLS: 'true', VIGIL_TAGS: '["a","b"]', VIGIL_MQTT__PROTOCOL_VERSION: '5' },
    });
    assert.equal(config.name, 'clinic');
    assert.equal(config.mqtt.keepaliveS, 90);
    assert.equal(config.mqtt.tls, true);
    assert.deepEqual(config.tags, ['a', 'b']);
    assert.equal(config.mqtt.protocolVersion, 5);
    assert.throws(
      () => loadConfig(Schema, { env: { VIGIL_MQTT__PROTOCOL_VERSION: '3' } }),
      (e: Error) => e.message.includes('mqtt.protocolVersion'),
    );
  } finally {
    dir.remove();
  }
});

test('a bad value is refused with a message naming the key and the variable', () => {
  assert.throws(
    () => loadConfig(Schema, { env: { VIGIL_MQTT__KEEPALIVE_S: 'soon' } }),
    (e: Error & { code?: string }) => e.code === 'VIGIL_CONFIG_INVALID' && e.message.includes('VIGIL_MQTT__KEEPALIVE_S'),
  );
  assert.throws(
    () => loadConfig(Schema, { env: { VIGIL_MQTT__KEEPALIVE_S: '1' } }),
    (e: Error & { code?: string }) => e.code === 'VIGIL_CONFIG_INVALID' && e.message.includes('mqtt.keepaliveS'),
  );
  assert.throws(
    () => loadConfig(Schema, { env: { VIGIL_MQTT__URL: 'http://x' } }),
    (e: Error) => e.message.includes('mqtt.url'),
  );
});

test('unknown keys in the file and unknown VIGIL_ variables are refused', () => {
  const dir = makeTempDir('config');
  try {
    const file = join(dir.path, 'hub.yaml');
    writeFileSync(file, 'mqtt:\n  keepalive: 60\n');
    assert.throws(
      () => loadConfig(Schema, { file, env: {} }),
      (e: Error) => e.message.includes('mqtt.keepalive'),
    );
    assert.throws(
      () => loadConfig(Schema, { env: { VIGIL_MQTT__KEEPALIVE: '3' } }),
      (e: Error) => e.message.includes('VIGIL_MQTT__KEEPALIVE'),
    );
    writeFileSync(file, 'mqtt: [unclosed');
    assert.throws(() => loadConfig(Schema, { file, env: {} }), { code: 'VIGIL_CONFIG_UNREADABLE' });
  } finally {
    dir.remove();
  }
});
