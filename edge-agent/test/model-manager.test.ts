import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createLogger,
  MODEL_DESIRED_SCHEMA,
  type ModelDesiredMessage,
  type ModelReportedMessage,
  newMessageId,
  trustedKeys,
} from '@vigil/shared';
import * as tar from 'tar';
import { freePort } from '../../scripts/harness/free-port.js';
import { startTestHub, type TestHub } from '../../scripts/harness/hub-fixture.js';
import {
  BUNDLED_MODEL,
  BUNDLED_VERSION,
  generateSigningKey,
  modelVersion,
  packAndSign,
  phantomImages,
} from '../../scripts/harness/model-packages.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { passwordHttp } from '../src/identity/device-http.js';
import { ModelManager } from '../src/models/model-manager.js';
import { unpackModel } from '../src/models/model-package-file.js';
import { downloadPackage } from '../src/models/package-download.js';

const dir = makeTempDir('models');
const trusted = generateSigningKey();
const stranger = generateSigningKey();
let h: TestHub;
let password = '';
let reference = '';

async function manager(name: string, options: Partial<ConstructorParameters<typeof ModelManager>[0]> = {}) {
  const reports: ModelReportedMessage[] = [];
  const m = new ModelManager({
    ...options,
    address: { clinicId: 'c1', deviceId: 'edge-m' },
    dataDir: join(dir.path, name),
    trustedKeys: trustedKeys([trusted.publicKeyPem]),
    threads: 1,
    http: passwordHttp('edge-m', password),
    logger: createLogger('test', { level: 'silent' }),
    report: (r) => reports.push(r),
  });
  await m.start(BUNDLED_MODEL);
  return { m, reports };
}

function desired(active: ModelDesiredMessage['active']): ModelDesiredMessage {
  return {
    schema: MODEL_DESIRED_SCHEMA,
    messageId: newMessageId(),
    clinicId: 'c1',
    deviceId: 'edge-m',
    issuedAt: new Date().toISOString(),
    active,
  };
}

/** The bundled model repackaged as `version`, signed with `key`'s private key. */
function packVersion(label: string, version: string, key = trusted) {
  return packAndSign(
    modelVersion(BUNDLED_MODEL, join(dir.path, label), version),
    reference,
    join(dir.path, `${label}.vpkg`),
    key.privateKeyPem,
  );
}

/** …and published at the test hub. */
async function publishVersion(label: string, version: string, key = trusted) {
  const pkg = await packVersion(label, version, key);
  const record = await h.hub.models.publish(pkg.path, pkg.signature, 'test');
  return { pkg, ref: h.hub.models.ref(record) };
}

before(async () => {
  h = await startTestHub({ models: { trustedKeys: [trusted.publicKeyPem, stranger.publicKeyPem] } });
  password = await h.addDevice('c1', 'edge-m');
  [reference] = (await phantomImages(join(dir.path, 'ref'), 1, 31)) as [string];
});

after(async () => {
  await h.stop();
  dir.remove();
});

describe('edge model manager', () => {
  it('installs a trusted package after self-test and keeps the previous model for rollback', async () => {
    const { ref } = await publishVersion('good', '0.9.0');
    const { m, reports } = await manager('good');
    m.onDesired(desired(ref));
    await m.settled();
    assert.deepEqual(
      reports.map((r) => r.state),
      ['downloading', 'verifying', 'self-testing', 'active'],
    );
    assert.equal(m.active?.ref.version, '0.9.0');
    assert.equal(m.previous?.ref.version, BUNDLED_VERSION);
    // Rolling back needs no download: the previous model is still loaded.
    m.onDesired(desired({ ...ref, version: BUNDLED_VERSION }));
    await m.settled();
    assert.equal(reports.at(-1)?.state, 'rolled-back');
    assert.equal(m.active?.ref.version, BUNDLED_VERSION);
    await m.stop();
  });

  it('refuses a package signed by a key it does not trust, and one whose signed statement was altered', async () => {
    const evil = await publishVersion('evil', '0.9.1', stranger);
    const { m, reports } = await manager('evil');
    m.onDesired(desired(evil.ref));
    await m.settled();
    assert.equal(reports.at(-1)?.state, 'failed');
    assert.equal(reports.at(-1)?.reason?.code, 'VIGIL_MODEL_SIGNATURE_INVALID');
    assert.match(reports.at(-1)?.reason?.message ?? '', /not trusted here/);
    assert.equal(m.active?.ref.version, BUNDLED_VERSION, 'the current model keeps running');

    const { ref } = await publishVersion('g2', '0.9.2');
    // Someone rewrites the desired message to call it another version: the signature no longer covers it.
    m.onDesired(desired({ ...ref, version: '1.0.0' }));
    await m.settled();
    assert.equal(reports.at(-1)?.reason?.code, 'VIGIL_MODEL_SIGNATURE_INVALID');
    assert.equal(m.active?.ref.version, BUNDLED_VERSION);
    await m.stop();
  });

  it('reports an unreachable package server as still downloading, retries, and reports failed only after its attempts', async () => {
    const { ref } = await publishVersion('away', '0.9.5');
    const closed = await freePort();
    const { m, reports } = await manager('away', { retryMs: { min: 20, max: 20 }, downloadAttempts: 2 });
    m.onDesired(desired({ ...ref, url: `http://127.0.0.1:${closed}/api/v1/packages/vigil-demo/0.9.5` }));
    await waitFor('failed after the attempts', () => reports.some((r) => r.state === 'failed'), 10_000);
    const states = reports.map((r) => `${r.state}${r.reason ? `:${r.reason.code}` : ''}`);
    assert.deepEqual(states.slice(0, 6), [
      'downloading',
      'downloading:VIGIL_MODEL_DOWNLOAD_FAILED',
      'downloading',
      'downloading:VIGIL_MODEL_DOWNLOAD_FAILED',
      'downloading',
      'failed:VIGIL_MODEL_DOWNLOAD_FAILED',
    ]);
    assert.equal(m.active?.ref.version, BUNDLED_VERSION, 'the current model keeps running');
    await m.stop();
  });

  it('resumes a partial download with an HTTP Range request', async () => {
    const { pkg, ref } = await publishVersion('res', '0.9.3');
    const bytes = readFileSync(pkg.path);
    const dest = join(dir.path, 'dl', 'res.vpkg');
    mkdirSync(join(dir.path, 'dl'), { recursive: true });
    writeFileSync(`${dest}.part`, bytes.subarray(0, 1000));
    await downloadPackage({
      url: ref.url,
      dest,
      sha256: ref.sha256,
      sizeBytes: ref.sizeBytes,
      http: passwordHttp('edge-m', password),
    });
    assert.deepEqual(readFileSync(dest), bytes);
    // Proof that the start was not fetched again: a corrupt partial start survives into the result and is caught.
    const dest2 = join(dir.path, 'dl', 'res2.vpkg');
    writeFileSync(`${dest2}.part`, Buffer.alloc(1000, 7));
    await assert.rejects(
      downloadPackage({
        url: ref.url,
        dest: dest2,
        sha256: ref.sha256,
        sizeBytes: ref.sizeBytes,
        http: passwordHttp('edge-m', password),
      }),
      (e: { code: string }) => e.code === 'VIGIL_MODEL_INVALID',
    );
    await assert.rejects(
      downloadPackage({
        url: ref.url,
        dest: join(dir.path, 'dl', 'x'),
        sha256: ref.sha256,
        sizeBytes: ref.sizeBytes,
        http: passwordHttp('edge-m', 'wrong-password'),
      }),
      (e: { code: string; message: string }) => e.code === 'VIGIL_MODEL_DOWNLOAD_FAILED' && /401/.test(e.message),
    );
  });

  it('refuses archives with paths or links instead of plain files', async () => {
    const staging = join(dir.path, 'staging');
    mkdirSync(join(staging, 'sub'), { recursive: true });
    writeFileSync(join(staging, 'sub', 'evil.sh'), 'echo pwned');
    await tar.c({ gzip: true, file: join(dir.path, 'bad.vpkg'), cwd: staging }, ['sub/evil.sh']);
    await assert.rejects(unpackModel(join(dir.path, 'bad.vpkg'), join(dir.path, 'out')), /not plain files: sub/);
    writeFileSync(join(dir.path, 'junk.vpkg'), 'not a tarball at all');
    await assert.rejects(
      unpackModel(join(dir.path, 'junk.vpkg'), join(dir.path, 'out2')),
      (e: { code: string }) => e.code === 'VIGIL_MODEL_INVALID',
    );
  });
});

describe('model registry', () => {
  it('refuses a signed package whose name would leave the registry directory', async () => {
    const pkg = await packVersion('trav', '0.9.9');
    const forged = { ...pkg.signature, name: '../../escape' };
    await assert.rejects(
      h.hub.models.publish(pkg.path, forged, 'test'),
      (e: { code: string }) => e.code === 'VIGIL_MODEL_INVALID',
    );
  });
});

describe('edge agent desired-model subscription', () => {
  it('ignores a malformed desired-model message with a coded log line and keeps its model', async () => {
    const { edgeConfig } = await import('../../scripts/harness/hub-fixture.js');
    const { waitFor } = await import('../../scripts/harness/wait-for.js');
    const { EdgeAgent } = await import('../src/edge-agent.js');
    const { createLogger, topicFor } = await import('@vigil/shared');
    const lines: string[] = [];
    const logger = createLogger('edge-junk', { level: 'warn' }, { write: (line: string) => lines.push(line) });
    const pw = await h.addDevice('c1', 'edge-junk');
    const agent = new EdgeAgent(
      edgeConfig(
        { clinicId: 'c1', deviceId: 'edge-junk', password: pw, mqttUrl: h.mqttUrl, dataDir: join(dir.path, 'junk') },
        { VIGIL_MODEL__DIR: BUNDLED_MODEL, VIGIL_MODEL__TRUSTED_KEYS: JSON.stringify([trusted.publicKeyPem]) },
      ),
      { logger },
    );
    await agent.start();
    try {
      await waitFor('connected', () => agent.publisher.connected);
      const topic = topicFor({ clinicId: 'c1', deviceId: 'edge-junk' }, 'model/desired');
      await h.hub.transport.publish(topic, Buffer.from('{"schema":"vigil.model-desired/1","active":"nope"}'), true);
      await waitFor('the refusal is logged', () =>
        lines.some((l) => /VIGIL_PAYLOAD_SCHEMA/.test(l) && /malformed desired-model/.test(l)),
      );
      assert.equal(agent.models?.active?.ref.version, BUNDLED_VERSION);
      assert.equal(agent.models?.lastRefusal, undefined);
      assert.ok(agent.publisher.connected);
    } finally {
      await agent.stop();
    }
  });
});
