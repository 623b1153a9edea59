// The clinic edge's image store for viewers: frames kept sealed at rest, found by pseudonym, and a
// retention policy that keeps each patient's priors for follow-up reading.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pseudonymOfUid, pseudonymUid } from '@vigil/shared';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { AtRestCipher, PLAINTEXT } from '../src/at-rest/at-rest-cipher.js';
import { defaultWindow } from '../src/viewing/image-sink.js';
import { ClinicImageStore, type KeptImage } from '../src/viewing/image-store.js';
import { chooseEvictions, type HeldImage } from '../src/viewing/retention.js';

const key = (n: number, salt = 'a') => `${salt}${n.toString(16).padStart(31, '0')}`;

function held(patient: string, study: number, date: string, bytes = 100): HeldImage[] {
  return [0, 1].map((k) => ({
    instanceKey: key(study * 10 + k, 'c'),
    patientKey: patient,
    studyKey: key(study, 'b'),
    studyDate: date,
    bytes,
  }));
}

test('retention: old studies go, each patient keeps the latest studies whatever their age', () => {
  const p1 = key(1);
  const p2 = key(2);
  const images = [
    ...held(p1, 1, '2015-01-10'),
    ...held(p1, 2, '2017-01-10'),
    ...held(p1, 3, '2019-01-10'),
    ...held(p1, 4, '2026-01-10'),
    ...held(p2, 5, '2014-05-01'),
  ];
  const policy = { maxAgeDays: 365 * 3, keepStudies: 3, maxBytes: 1e9 };
  const sweep = chooseEvictions(images, policy, new Date('2026-12-07T00:00:00Z'));
  const studiesGone = new Set(images.filter((i) => sweep.evict.includes(i.instanceKey)).map((i) => i.studyKey));
  assert.deepEqual([...studiesGone], [key(1, 'b')], "only p1's fourth-latest study: the three latest are her priors");
  assert.equal(sweep.overProtected, false);
  // p2's only study is 12 years old and kept: it is the prior her next screening is read against.
  assert.ok(!sweep.evict.some((k) => images.find((i) => i.instanceKey === k)?.patientKey === p2));
});

test('retention: past the size limit the oldest unprotected studies go first, protected ones only as a last resort', () => {
  const p1 = key(1);
  const images = [...held(p1, 1, '2024-01-10'), ...held(p1, 2, '2025-01-10'), ...held(p1, 3, '2026-01-10')];
  const now = new Date('2026-12-07T00:00:00Z');
  const fits = chooseEvictions(images, { maxAgeDays: 3650, keepStudies: 2, maxBytes: 400 }, now);
  assert.deepEqual(fits.evict.sort(), [key(10, 'c'), key(11, 'c')], 'the oldest, unprotected study');
  assert.equal(fits.overProtected, false);
  const tight = chooseEvictions(images, { maxAgeDays: 3650, keepStudies: 2, maxBytes: 150 }, now);
  assert.equal(tight.evict.length, 5, 'down to one image of 100 bytes');
  assert.equal(tight.overProtected, true, 'said aloud: priors were removed');
  assert.ok(!tight.evict.includes(key(31, 'c')), 'the newest image stays');
});

test('pseudonym UIDs are valid DICOM UIDs (2.25 + 128-bit decimal) and map back', () => {
  const k = 'ffffffffffffffffffffffffffffffff';
  const uid = pseudonymUid(k);
  assert.match(uid, /^2\.25\.[1-9][0-9]*$/);
  assert.ok(uid.length <= 64, 'fits the UI VR');
  assert.equal(pseudonymOfUid(uid), k);
  assert.equal(pseudonymOfUid(pseudonymUid(key(7))), key(7));
  assert.equal(pseudonymOfUid('1.2.840.10008.1.2'), undefined);
  assert.equal(pseudonymOfUid(`2.25.${(1n << 128n).toString()}`), undefined, 'past 128 bits');
  assert.throws(() => pseudonymUid('not-a-key'));
});

test('image store: frames sealed at rest, served by pseudonym, swept by the policy', async () => {
  const dir = makeTempDir('image-store');
  try {
    const cipher = new AtRestCipher(Buffer.alloc(32, 7));
    const store = new ClinicImageStore(dir.path, {
      atRest: cipher,
      retention: { maxAgeDays: 30, keepStudies: 1, maxBytes: 1e9 },
    });
    const pixels = Uint16Array.from({ length: 64 * 48 }, (_, i) => (i * 37) % 4096);
    const meta = (instance: number, study: number, date: string): Omit<KeptImage, 'bytes' | 'keptAt'> => ({
      instanceKey: key(instance, 'c'),
      seriesKey: key(instance, 'd'),
      studyKey: key(study, 'b'),
      patientKey: key(1),
      studyDate: date,
      laterality: 'L',
      view: 'CC',
      modality: 'MG',
      rows: 48,
      columns: 64,
      bitsAllocated: 16,
      bitsStored: 12,
      pixelRepresentation: 0,
      photometric: 'MONOCHROME2',
      rescaleSlope: 1,
      rescaleIntercept: 0,
      windowCenter: 2048,
      windowWidth: 4096,
      pixelSpacingMm: [0.1, 0.1],
    });
    const bytes = new Uint8Array(pixels.buffer);
    await store.keep(meta(1, 1, '2020-01-01'), bytes);
    await store.keep(meta(2, 2, '2026-12-01'), bytes);
    await assert.rejects(store.keep(meta(3, 2, '2026-12-01'), bytes.subarray(2)), /expected 6144/);
    const file = readFileSync(join(dir.path, 'images', `${key(2, 'c')}.px`));
    assert.ok(!file.includes(Buffer.from(bytes.subarray(100, 164))), 'sealed on disk');
    assert.deepEqual(new Uint8Array((await store.frame(key(2, 'c'))) as Buffer), bytes, 'opened intact');
    assert.deepEqual(
      store.study(key(2, 'b')).map((i) => i.instanceKey),
      [key(2, 'c')],
    );
    assert.equal(store.study('nope').length, 0);
    // A store whose encryption is off refuses sealed frames rather than serving ciphertext as pixels.
    const plain = new ClinicImageStore(dir.path, {
      atRest: PLAINTEXT,
      retention: { maxAgeDays: 1, keepStudies: 1, maxBytes: 1 },
    });
    await assert.rejects(plain.frame(key(2, 'c')), { code: 'VIGIL_AT_REST_KEY_INVALID' });
    await plain.close();

    const sweep = await store.sweep(new Date('2026-12-07T00:00:00Z'));
    assert.deepEqual(sweep.evict, [key(1, 'c')], 'the 2020 study is past 30 days and not her latest');
    assert.equal(store.image(key(1, 'c')), undefined);
    assert.equal(await store.frame(key(1, 'c')), undefined);
    assert.deepEqual(readdirSync(join(dir.path, 'images')).sort(), [`${key(2, 'c')}.px`], 'the file went with its row');
    assert.equal(store.stats().images, 1);
    await store.close();
  } finally {
    dir.remove();
  }
});

test('a default window from the image when it names none', () => {
  const pixels = Uint16Array.from({ length: 10_000 }, (_, i) => 1000 + (i % 1000));
  const w = defaultWindow(pixels, 1, 0);
  assert.ok(w.center > 1400 && w.center < 1600, String(w.center));
  assert.ok(w.width > 900 && w.width < 1000, String(w.width));
});
