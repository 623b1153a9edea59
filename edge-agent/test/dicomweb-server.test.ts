// The clinic endpoint's DICOMweb on its own (no hub): rate limit, audit at the edge, and a frame that
// is the stored values byte for byte even when sealed at rest.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger, generateSigningKey, pseudonymUid, reidAudience, signReidToken } from '@vigil/shared';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { AtRestCipher } from '../src/at-rest/at-rest-cipher.js';
import { IdentityIndex } from '../src/reid/identity-index.js';
import { ReidAuditLog } from '../src/reid/reid-audit.js';
import { startReidServer } from '../src/reid/reid-server.js';
import { ClinicImageStore } from '../src/viewing/image-store.js';

const key = (n: number, salt: string) => `${salt}${n.toString(16).padStart(31, '0')}`;

test('clinic DICOMweb: frames sealed at rest come out intact, requests are rate-limited and audited at the edge', async () => {
  const dir = makeTempDir('dicomweb');
  const hubKey = generateSigningKey();
  const store = new ClinicImageStore(dir.path, {
    atRest: new AtRestCipher(randomBytes(32)),
    retention: { maxAgeDays: 3650, keepStudies: 3, maxBytes: 1e9 },
  });
  const index = new IdentityIndex(join(dir.path, 'reid.sqlite'), { key: () => randomBytes(32) });
  const logger = createLogger('test', { level: 'silent' });
  const audit = new ReidAuditLog(join(dir.path, 'reid-audit.sqlite'), {
    hubUrl: '',
    http: { fetch: () => Promise.reject(new Error('no hub in this test')) } as never,
    logger,
  });
  const pixels = Int16Array.from({ length: 32 * 24 }, (_, i) => i - 300);
  await store.keep(
    {
      instanceKey: key(1, 'c'),
      seriesKey: key(1, 'd'),
      studyKey: key(1, 'b'),
      patientKey: key(1, 'a'),
      studyDate: '2026-11-30',
      laterality: 'R',
      view: 'MLO',
      modality: 'MG',
      rows: 24,
      columns: 32,
      bitsAllocated: 16,
      bitsStored: 16,
      pixelRepresentation: 1,
      photometric: 'MONOCHROME1',
      rescaleSlope: 1,
      rescaleIntercept: 0,
      windowCenter: 0,
      windowWidth: 800,
      pixelSpacingMm: null,
    },
    new Uint8Array(pixels.buffer),
  );
  const server = await startReidServer({
    clinicId: 'c1',
    deviceId: 'd1',
    host: '127.0.0.1',
    port: 0,
    allowedOrigins: ['http://dashboard.test'],
    hubPublicKeyPem: hubKey.publicKeyPem,
    index,
    audit,
    images: { store, requestsPerMinute: 5 },
    logger,
  });
  try {
    const url = `http://127.0.0.1:${server.port}`;
    const token = (
      await signReidToken(
        { username: 'dr.x', role: 'clinician', clinics: ['c1'] },
        hubKey.privateKeyPem,
        60,
        reidAudience('c1', 'd1'),
      )
    ).token;
    const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const study = `/dicomweb/studies/${pseudonymUid(key(1, 'b'))}`;
    const meta = (await (await get(`${study}/metadata`)).json()) as Record<string, { Value?: unknown[]; BulkDataURI?: string }>[];
    assert.equal(meta[0]?.['00280004']?.Value?.[0], 'MONOCHROME1');
    assert.equal(meta[0]?.['00280103']?.Value?.[0], 1, 'signed');
    assert.equal(meta[0]?.['00200062']?.Value?.[0], 'R');
    assert.equal(meta[0]?.['00280030'], undefined, 'no spacing invented');
    const frame = await get(new URL(meta[0]?.['7FE00010']?.BulkDataURI as string).pathname);
    assert.equal(frame.headers.get('cache-control'), 'private, no-store');
    const body = Buffer.from(await frame.arrayBuffer());
    const start = body.indexOf('\r\n\r\n') + 4;
    const served = new Int16Array(
      body
        .subarray(start, start + pixels.byteLength)
        .buffer.slice(body.byteOffset + start, body.byteOffset + start + pixels.byteLength),
    );
    assert.deepEqual([...served], [...pixels], 'sealed on disk, the same values on the wire');
    assert.equal(
      (await get(`${study}/series/${pseudonymUid(key(1, 'd'))}/instances/${pseudonymUid(key(1, 'c'))}/frames/2`)).status,
      404,
    );
    // Three so far: the fourth and fifth of the minute pass, the sixth is refused with a code.
    assert.equal((await get(`${study}/instances`)).status, 200);
    assert.equal((await get(`${study}/instances`)).status, 200);
    const limited = await get(`${study}/instances`);
    assert.equal(limited.status, 429);
    assert.equal(((await limited.json()) as { error: { code: string } }).error.code, 'VIGIL_API_RATE_LIMITED');
    // At the edge: who looked at which pseudonym, for images; nothing identifying.
    const events = audit.unreported(50);
    assert.ok(events.length >= 4);
    assert.ok(events.every((e) => e.kind === 'images' && e.username === 'dr.x'));
    assert.deepEqual([...new Set(events.flatMap((e) => e.patientKeys))], [key(1, 'a')]);
  } finally {
    await server.app.close();
    await audit.stop();
    await store.close();
    index.close();
    dir.remove();
  }
});
