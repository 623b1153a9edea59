import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { generateSigningKey } from '@vigil/shared';
import { clinicEndpointEnv } from '../../scripts/harness/clinic-endpoint.js';
import { freePort } from '../../scripts/harness/free-port.js';
import { BUNDLED_MODEL } from '../../scripts/harness/model-packages.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { loadEdgeConfig } from '../src/config.js';
import { ageInYears, deidentify } from '../src/deid/deidentify.js';
import { EdgeAgent } from '../src/edge-agent.js';
import type { PreparedImage } from '../src/pipeline/prepare-image.js';

const run = promisify(execFile);
const PY = join(import.meta.dirname, '../../scripts/python');

test('ages come from PatientAge, else from birth and study dates', () => {
  assert.equal(ageInYears({ patientAge: '064Y', birthDate: '', studyDate: '' }), 64);
  assert.equal(ageInYears({ patientAge: '018M', birthDate: '', studyDate: '' }), 1);
  assert.equal(ageInYears({ patientAge: '', birthDate: '19610314', studyDate: '20260313' }), 64);
  assert.equal(ageInYears({ patientAge: '', birthDate: '19610314', studyDate: '20260314' }), 65);
  assert.equal(ageInYears({ patientAge: '', birthDate: '', studyDate: '20260314' }), undefined);
});

test('pseudonyms: same patient and issuer → same key across studies; another secret or issuer → another key', () => {
  const identity = {
    patientName: 'Doe^Jane',
    patientSex: 'F',
    accessionNumber: 'A1',
    studyTime: '093000',
    studyId: '1',
    referringPhysicianName: '',
    sopClassUid: '1.2.840.10008.5.1.4.1.1.1.2',
    patientId: 'P1',
    issuerOfPatientId: '',
    birthDate: '',
    patientAge: '',
    studyInstanceUid: '1.2.3',
    seriesInstanceUid: '1.2.3.4',
    sopInstanceUid: '1.2.3.4.5',
    studyDate: '20260101',
    seriesDate: '',
    contentDate: '',
    modality: 'MG',
    imageLaterality: 'R',
    laterality: '',
    viewPosition: 'MLO',
    burnedInAnnotation: 'NO',
  };
  const a = deidentify(identity, { secret: 's'.repeat(20), defaultIssuer: 'clinic-a' });
  const b = deidentify({ ...identity, studyInstanceUid: '9.9' }, { secret: 's'.repeat(20), defaultIssuer: 'clinic-a' });
  assert.equal(a.patientKey, b.patientKey);
  assert.notEqual(a.studyKey, b.studyKey);
  assert.notEqual(a.patientKey, deidentify(identity, { secret: 't'.repeat(20), defaultIssuer: 'clinic-a' }).patientKey);
  assert.notEqual(a.patientKey, deidentify(identity, { secret: 's'.repeat(20), defaultIssuer: 'clinic-b' }).patientKey);
  assert.deepEqual([a.laterality, a.view, a.studyDate, a.modality], ['R', 'MLO', '2026-01-01', 'MG']);
  // Only defined mammography views: a side written into the view is read apart, free text is refused.
  const viewOf = (viewPosition: string) =>
    deidentify({ ...identity, viewPosition }, { secret: 's'.repeat(20), defaultIssuer: 'clinic-a' }).view;
  assert.deepEqual(['cc', ' XCCL ', 'RMLO', 'LCC', ''].map(viewOf), ['CC', 'XCCL', 'MLO', 'CC', 'UNKNOWN']);
  for (const bad of ['RIGHT CC VIEW', 'CRANIOCAUDAL', 'MLO2', 'AP']) {
    assert.throws(() => viewOf(bad), { code: 'VIGIL_DICOM_VIEW_INVALID' }, bad);
  }
});

test('no PHI value from the input appears in anything the edge keeps for publishing, logs or outputs', async () => {
  const dir = makeTempDir('deid');
  const port = await freePort();
  // The clinic-side paths run too: the model, the PACS queue (its destination down) and the identity index.
  const hubKey = join(dir.path, 'hub-reid.pub.pem');
  writeFileSync(hubKey, generateSigningKey().publicKeyPem);
  const logFile = join(dir.path, 'agent.log');
  const images: PreparedImage[] = [];
  const { createLogger } = await import('@vigil/shared');
  const { pino } = await import('pino');
  const logger = createLogger('deid-test', { level: 'debug' }, pino.destination({ dest: logFile, sync: true }));
  const agent = new EdgeAgent(
    loadEdgeConfig(undefined, {
      VIGIL_CLINIC_ID: 'clinic-a',
      VIGIL_DEVICE_ID: 'edge-deid',
      VIGIL_DATA_DIR: join(dir.path, 'edge'),
      VIGIL_MQTT__URL: `mqtt://127.0.0.1:${await freePort()}`,
      VIGIL_DICOM__ENABLED: 'true',
      VIGIL_DICOM__PORT: String(port),
      VIGIL_DICOM__ALLOW_ANY_CALLING_AE: 'true',
      VIGIL_DEID__SECRET: 'deid-test-secret-000000',
      VIGIL_MODEL__DIR: BUNDLED_MODEL,
      VIGIL_PACS__ENABLED: 'true',
      VIGIL_PACS__STUDY_SETTLE_S: '0',
      VIGIL_PACS__RETRY_MIN_MS: '100',
      VIGIL_PACS__DESTINATIONS: JSON.stringify([{ name: 'down', kind: 'dimse', port: await freePort(), timeoutMs: 2000 }]),
      ...clinicEndpointEnv({ port: 0, hubPublicKeyFile: hubKey }),
    }),
    { logger, imageSinks: [{ accept: async (image) => void images.push(image) }] },
  );
  try {
    await agent.start();
    const file = join(dir.path, 'phi.dcm');
    const phi = JSON.parse(
      execFileSync('/usr/bin/python3', [join(PY, 'make_phi_image.py'), file, 'MRN-00451277', '1.2.826.0.1.3680043.9.7777.1'], {
        encoding: 'utf8',
      }),
    ) as Record<string, string>;
    await run('storescu', ['-aec', 'VIGIL', '127.0.0.1', String(port), file]);
    await waitFor('image processed', () => images.length === 1, 20_000);
    await waitFor(
      'the SR built and its delivery tried',
      () => (agent.pacs?.store.all() ?? []).some((d) => d.attempts >= 1),
      60_000,
    );
    await agent.telemetry.sampleAndEnqueue();
    const image = images[0] as PreparedImage;
    assert.equal(image.image.patientAgeYears, 64);
    assert.equal(image.image.studyDate, '2026-01-17', 'study date kept (longitudinal option)');
    assert.equal(image.image.laterality, 'L');
    const published = JSON.stringify(image.image);
    const outbox = readFileSync(join(dir.path, 'edge', 'outbox.sqlite')).toString('latin1');
    const logs = readFileSync(logFile, 'utf8');
    const values = Object.values(phi).flatMap((v) => [v, ...v.split(/[\^, ]+/).filter((part) => part.length >= 5)]);
    values.push('19610314', '1961-03-14', 'PRIVATE-PHI');
    for (const value of values) {
      assert.ok(!published.includes(value), `de-identified output leaks ${value}`);
      assert.ok(!outbox.includes(value), `outbox leaks ${value}`);
      assert.ok(!logs.includes(value), `logs leak ${value}`);
    }
    assert.ok(readdirSync(join(dir.path, 'edge', 'quarantine')).length === 0);
    // The clinic's own stores: the PACS queue holds the identity (it builds the clinic's objects; a
    // positive control for this search), the identity index only sealed.
    const bytes = (file: string) =>
      ['', '-wal']
        .map((s) => join(dir.path, 'edge', `${file}${s}`))
        .filter((f) => existsSync(f))
        .map((f) => readFileSync(f).toString('latin1'))
        .join('');
    assert.ok(bytes('pacs.sqlite').includes('MRN-00451277'), 'the PACS queue has the identity (clinic only)');
    const index = bytes('reid.sqlite');
    assert.ok(index.length > 0);
    for (const value of values) assert.ok(!index.includes(value), `identity index leaks ${value} in clear`);
  } finally {
    await agent.stop();
    dir.remove();
  }
});
