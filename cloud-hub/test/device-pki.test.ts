// Device certificates end to end over real TLS: the hub's CA, one-time enrolment tokens, mTLS on
// MQTT and HTTPS, a certificate that names only its own device, renewal before expiry by a running
// edge agent, revocation that drops a live connection, package downloads with the certificate.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { csrFor, DeviceIdentity, EdgeAgent, loadEdgeConfig } from '@vigil/edge-agent';
import { createLogger, encodeMessage, newMessageId, STATUS_SCHEMA, topicFor } from '@vigil/shared';
import mqtt from 'mqtt';
import { Agent, fetch as undiciFetch } from 'undici';
import { downloadPackage } from '../../edge-agent/src/models/package-download.js';
import { startTestHub, type TestHub } from '../../scripts/harness/hub-fixture.js';
import {
  BUNDLED_MODEL,
  generateSigningKey,
  modelVersion,
  packAndSign,
  phantomImages,
} from '../../scripts/harness/model-packages.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { makeTlsMaterial, type TlsMaterial } from '../../scripts/harness/tls-material.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { initDeviceCa } from '../src/pki/device-ca.js';

const run = promisify(execFile);
const HUB_BIN = join(import.meta.dirname, '../bin/vigil-hub.mjs');
const logger = createLogger('test', { level: (process.env.PKI_LOG as 'silent') ?? 'silent' });
const dir = makeTempDir('pki');
const admin = { actor: 'test', actorRole: 'admin', ip: 'local' };
const signing = generateSigningKey();
let tls: TlsMaterial;
let h: TestHub;
let httpsUrl = '';
let mqttsUrl = '';

async function tlsHub(pkiDir: string, pki: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<TestHub> {
  const t = await startTestHub({
    pki: { dir: pkiDir, revocationCheckS: 0.5, ...pki },
    http: { port: 0, tls: { enabled: true, keyFile: tls.serverKey, certFile: tls.serverCert } },
    mqtt: {
      listen: { port: 0 },
      tls: { enabled: true, host: '127.0.0.1', port: 0, keyFile: tls.serverKey, certFile: tls.serverCert },
    },
    ...extra,
  });
  return t;
}

function enrolment(t: TestHub) {
  assert.ok(t.hub.enrolment, 'the hub has started its enrolment service');
  return t.hub.enrolment;
}

function identity(deviceId: string, clinicId = 'clinic-a', hubUrl = httpsUrl, renewAt?: number): DeviceIdentity {
  return new DeviceIdentity({
    address: { clinicId, deviceId },
    dataDir: join(dir.path, 'edges', deviceId),
    hubUrl,
    hubCaFile: tls.caCert,
    ...(renewAt ? { renewAt } : {}),
    logger,
  });
}

/** Connects with a device certificate; resolves with the client or rejects with the refusal. */
function connectWithCertificate(id: DeviceIdentity, clientId: string, url = mqttsUrl): Promise<mqtt.MqttClient> {
  const material = id.tls();
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      clientId,
      username: clientId,
      password: '',
      key: material.key,
      cert: material.cert,
      ca: material.ca,
      rejectUnauthorized: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    client.once('connect', () => resolve(client));
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

const status = (clinicId: string, deviceId: string) =>
  encodeMessage({
    schema: STATUS_SCHEMA,
    messageId: newMessageId(),
    clinicId,
    deviceId,
    state: 'online',
    at: new Date().toISOString(),
    agentVersion: 'test',
  });

before(async () => {
  tls = makeTlsMaterial(dir.path);
  await initDeviceCa(join(dir.path, 'ca'));
  h = await tlsHub(join(dir.path, 'ca'), { certValidityS: 3600 }, { models: { trustedKeys: [signing.publicKeyPem] } });
  httpsUrl = `https://127.0.0.1:${h.hub.httpPort}`;
  mqttsUrl = `mqtts://127.0.0.1:${h.hub.mqttPorts.tls}`;
});
after(async () => {
  await h?.stop();
  dir.remove();
});

test('the CA key is 0600; a second ca init is refused; the CLI issues enrolment tokens, audited', async () => {
  assert.equal(statSync(join(dir.path, 'ca/ca.key')).mode & 0o777, 0o600);
  await assert.rejects(initDeviceCa(join(dir.path, 'ca')), { code: 'VIGIL_CA_EXISTS' });
  const env = { ...process.env, VIGIL_DATA_DIR: h.dataDir, VIGIL_PKI__DIR: join(dir.path, 'ca'), VIGIL_LOG_LEVEL: 'silent' };
  const { stdout } = await run(process.execPath, [HUB_BIN, 'device', 'enrol-token', 'clinic-a', 'edge-cli', '--ttl', '600'], {
    env,
  });
  const issued = JSON.parse(stdout) as { token: string; expiresAt: string };
  assert.match(issued.token, /^vet_[A-Za-z0-9_-]{43}$/);
  const cert = await identity('edge-cli').enrol(issued.token);
  assert.equal(
    cert.subject.split('\n').find((l) => l.startsWith('CN=')),
    'CN=edge-cli',
  );
  const audit = await h.hub.state.audit.list({ limit: 50 });
  const actions = audit.items.filter((e) => e.targetId === 'edge-cli').map((e) => `${e.action}:${e.outcome}`);
  assert.ok(actions.includes('device.enrol-token:success') && actions.includes('device.enrol:success'), actions.join());
});

test('enrolment with a valid token gives a working mTLS connection; reused, expired and forged tokens are refused with codes', async () => {
  const { token } = await enrolment(h).createToken({ clinicId: 'clinic-a', deviceId: 'edge-p1' }, admin);
  const id = identity('edge-p1');
  const cert = await id.enrol(token);
  // The key was made on the device and stays there: 0600, and the certificate is for it.
  assert.equal(statSync(id.files.key).mode & 0o777, 0o600);
  assert.ok(new X509Certificate(readFileSync(id.files.cert)).checkPrivateKey(createPrivateKey(readFileSync(id.files.key))));
  assert.match(cert.subject, /O=clinic-a/);
  assert.ok(cert.verify(new X509Certificate(readFileSync(id.files.ca)).publicKey), 'signed by the device CA');

  const client = await connectWithCertificate(id, 'edge-p1');
  await client.publishAsync(topicFor({ clinicId: 'clinic-a', deviceId: 'edge-p1' }, 'status'), status('clinic-a', 'edge-p1'), {
    qos: 1,
  });
  await waitFor('status stored from the mTLS connection', async () =>
    (await h.hub.state.listDeviceStates()).some((d) => d.deviceId === 'edge-p1' && d.status === 'online'),
  );
  await client.endAsync();

  await assert.rejects(identity('edge-p1-again').enrol(token), { code: 'VIGIL_ENROL_TOKEN_USED' });
  await assert.rejects(identity('edge-x').enrol(`vet_${'A'.repeat(43)}`), { code: 'VIGIL_ENROL_TOKEN_INVALID' });
  const short = await enrolment(h).createToken({ clinicId: 'clinic-a', deviceId: 'edge-late' }, admin, 0.05);
  await new Promise((r) => setTimeout(r, 100));
  await assert.rejects(identity('edge-late').enrol(short.token), { code: 'VIGIL_ENROL_TOKEN_EXPIRED' });
  // A request that is not a CSR signed by its own key, or one for a weak key: a coded 400 that does
  // not spend the one-time token (second review); the same token then enrols with a good request.
  const second = await enrolment(h).createToken({ clinicId: 'clinic-a', deviceId: 'edge-p2' }, admin);
  // P-521: a valid request for a key type the CA does not accept.
  const weakKeys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-521' }, true, ['sign', 'verify']);
  const weakCsr = (
    await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=edge-p2, O=clinic-a',
      keys: weakKeys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-512' },
    })
  ).toString('pem');
  for (const csr of [`-----BEGIN CERTIFICATE REQUEST-----\n${'QUJD'.repeat(40)}\n-----END CERTIFICATE REQUEST-----\n`, weakCsr]) {
    const response = await undiciFetch(`${httpsUrl}/api/v1/device/enrol`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: second.token, csr }),
      dispatcher: new Agent({ connect: { ca: readFileSync(tls.caCert) } }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'VIGIL_CSR_INVALID');
  }
  await identity('edge-p2').enrol(second.token);

  // Renewal needs a new key: a request for the current key is refused; a new key's certificate,
  // once used, ends the old one.
  const currentKey = readFileSync(id.files.key, 'utf8');
  const sameKey = await id.fetch(`${httpsUrl}/api/v1/device/certificate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ csr: await csrFor({ clinicId: 'clinic-a', deviceId: 'edge-p1' }, currentKey) }),
  });
  assert.equal(sameKey.status, 400);
  assert.equal(((await sameKey.json()) as { error: { code: string } }).error.code, 'VIGIL_CSR_INVALID');
  const firstSerial = cert.serialNumber.toLowerCase().padStart(32, '0');
  await id.renew();
  assert.equal((await id.fetch(`${httpsUrl}/api/v1/device/labels`)).status, 200, 'the new certificate works');
  const certificates = await h.hub.state.pki.listCertificates('edge-p1');
  assert.equal(certificates.length, 2);
  assert.ok(
    certificates.find((c) => c.serial === firstSerial)?.revokedAt,
    'the old certificate is revoked once the new one is used',
  );
  assert.equal(certificates.filter((c) => c.revokedAt === null).length, 1);
  const refusals = (await h.hub.state.audit.list({ limit: 100 })).items.filter(
    (e) => e.action === 'device.enrol' && e.outcome === 'failure',
  );
  assert.ok(refusals.length >= 3, 'refused enrolments are audited');
});

test("a certificate of device A cannot connect as device B nor publish to B's topics", async () => {
  const { token } = await enrolment(h).createToken({ clinicId: 'clinic-a', deviceId: 'edge-a' }, admin);
  await enrolment(h).createToken({ clinicId: 'clinic-b', deviceId: 'edge-b' }, admin);
  const a = identity('edge-a');
  await a.enrol(token);
  await assert.rejects(connectWithCertificate(a, 'edge-b'), (e: { code?: number; message: string }) => {
    assert.ok(e.code === 4 || e.code === 5 || /Not authorized|Bad username/i.test(e.message), e.message);
    return true;
  });
  const client = await connectWithCertificate(a, 'edge-a');
  const closed = new Promise<void>((resolve) => {
    client.once('close', () => resolve());
  });
  client.publish(topicFor({ clinicId: 'clinic-b', deviceId: 'edge-b' }, 'status'), status('clinic-b', 'edge-b'), { qos: 1 });
  await closed;
  client.end(true);
  assert.ok(!(await h.hub.state.listDeviceStates()).some((d) => d.deviceId === 'edge-b'), "nothing stored as B's");
});

test('package downloads work with the certificate; a revoked device is dropped within seconds and refused after', async () => {
  const { token } = await enrolment(h).createToken({ clinicId: 'clinic-a', deviceId: 'edge-r' }, admin);
  const id = identity('edge-r');
  await id.enrol(token);

  // A published package, downloaded over mTLS (no password anywhere).
  const [reference] = (await phantomImages(join(dir.path, 'ref'), 1, 31)) as [string];
  const pkg = await packAndSign(
    modelVersion(BUNDLED_MODEL, join(dir.path, 'm'), '9.9.9'),
    reference,
    join(dir.path, 'm.vpkg'),
    signing.privateKeyPem,
  );
  const record = await h.hub.models.publish(pkg.path, pkg.signature, 'test');
  {
    const dest = join(dir.path, 'downloaded.vpkg');
    await downloadPackage({
      url: `${httpsUrl}/api/v1/packages/${record.name}/${record.version}`,
      dest,
      sha256: record.sha256,
      sizeBytes: record.sizeBytes,
      http: id,
    });
    assert.equal(createHash('sha256').update(readFileSync(dest)).digest('hex'), record.sha256);
  }
  // Labels, another device route, with the certificate.
  const labels = await id.fetch(`${httpsUrl}/api/v1/device/labels`);
  assert.equal(labels.status, 200);

  const client = await connectWithCertificate(id, 'edge-r');
  const dropped = new Promise<number>((resolve) => {
    client.once('close', () => resolve(Date.now()));
  });
  const env = { ...process.env, VIGIL_DATA_DIR: h.dataDir, VIGIL_PKI__DIR: join(dir.path, 'ca'), VIGIL_LOG_LEVEL: 'silent' };
  const { stdout } = await run(process.execPath, [HUB_BIN, 'device', 'revoke', 'edge-r'], { env });
  const revokedAt = Date.now();
  assert.deepEqual(JSON.parse(stdout), { deviceId: 'edge-r', revoked: true, certificates: 1 });
  const droppedAt = await dropped;
  assert.ok(droppedAt - revokedAt < 10_000, `dropped ${droppedAt - revokedAt} ms after revocation`);
  client.end(true);
  await assert.rejects(connectWithCertificate(id, 'edge-r'), 'a revoked certificate cannot reconnect');
  const refused = await id.fetch(`${httpsUrl}/api/v1/device/labels`);
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'VIGIL_CERT_INVALID');
  await assert.rejects(id.renew(), { code: 'VIGIL_CERT_INVALID' });
});

test('a running edge agent enrols itself, renews its short-lived certificate before expiry and keeps delivering', async () => {
  const short = await tlsHub(join(dir.path, 'ca'), { certValidityS: 20 });
  const edgeDir = join(dir.path, 'edge-agent');
  let agent: EdgeAgent | undefined;
  try {
    const { token } = await enrolment(short).createToken({ clinicId: 'clinic-a', deviceId: 'edge-live' }, admin);
    const config = loadEdgeConfig(undefined, {
      VIGIL_CLINIC_ID: 'clinic-a',
      VIGIL_DEVICE_ID: 'edge-live',
      VIGIL_DATA_DIR: edgeDir,
      VIGIL_HUB_URL: `https://127.0.0.1:${short.hub.httpPort}`,
      VIGIL_MQTT__URL: `mqtts://127.0.0.1:${short.hub.mqttPorts.tls}`,
      VIGIL_MQTT__RECONNECT_MIN_MS: '100',
      VIGIL_MQTT__RECONNECT_MAX_MS: '1000',
      VIGIL_IDENTITY__ENROLMENT_TOKEN: token,
      VIGIL_IDENTITY__HUB_CA_FILE: tls.caCert,
      VIGIL_IDENTITY__RENEW_AT: '0.5',
      VIGIL_TELEMETRY__INTERVAL_S: '1',
    });
    agent = new EdgeAgent(config, { logger });
    await agent.start();
    const first = agent.credentials.identity.certificate as X509Certificate;
    await waitFor('online with the enrolled certificate', async () =>
      (await short.hub.state.listDeviceStates()).some((d) => d.deviceId === 'edge-live' && d.status === 'online'),
    );
    await waitFor(
      'renewed',
      () => agent?.credentials.identity.certificate?.serialNumber !== first.serialNumber,
      60_000,
      100,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last renewal error: ${agent?.credentials.identity.lastError?.message ?? 'none'}`);
    });
    const renewed = agent.credentials.identity.certificate as X509Certificate;
    assert.ok(new Date(renewed.validTo) > new Date(first.validTo));
    // Past the first certificate's expiry, the hub drops the connection: the edge must come back
    // with a certificate that is valid now, and its messages must still arrive.
    await waitFor('first certificate expired', () => Date.now() > new Date(first.validTo).getTime() + 500, 30_000, 100);
    short.hub.transport.disconnect('edge-live');
    const before = (await short.hub.state.listDeviceStates()).find((d) => d.deviceId === 'edge-live')?.lastSeenAt;
    agent.publisher.refreshStatus();
    await waitFor(
      'back online after the drop, with a valid certificate',
      async () => {
        const state = (await short.hub.state.listDeviceStates()).find((d) => d.deviceId === 'edge-live');
        return state?.status === 'online' && state.lastSeenAt !== before;
      },
      60_000,
      100,
    );
    const issued = await short.hub.state.pki.listCertificates('edge-live');
    assert.ok(issued.length >= 2, `${issued.length} certificates issued (enrolment + renewals)`);
  } finally {
    // Bounds a hang in shutdown (it would otherwise hold the file until the runner's timeout).
    const bounded = (what: string, p: Promise<void> | undefined) =>
      Promise.race([
        p,
        new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`${what} did not finish`)), 60_000).unref()),
      ]);
    await bounded('edge agent stop', agent?.stop());
    await bounded('hub stop', short.stop());
  }
});
