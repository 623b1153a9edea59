import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { freePort } from '../../scripts/harness/free-port.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { planCohort } from '../../scripts/phantoms/cohort-plan.js';
import { writeMammogram } from '../../scripts/phantoms/write-dicom.js';
import { loadEdgeConfig } from '../src/config.js';
import { EdgeAgent } from '../src/edge-agent.js';
import { inspectFile } from '../src/imaging/inspect-file.js';
import type { PreparedImage } from '../src/pipeline/prepare-image.js';

const run = promisify(execFile);
const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
const PY = join(import.meta.dirname, '../../scripts/python');
const SECRET = 'test-secret-for-pseudonyms-0001';
const dir = makeTempDir('intake');
let port: number;
let agent: EdgeAgent;
const images: PreparedImage[] = [];

function storescu(files: string[], args: string[] = []): Promise<{ stdout: string; stderr: string }> {
  return run('storescu', ['-aec', 'VIGIL', '-aet', 'MODALITY1', ...args, '127.0.0.1', String(port), ...files]);
}

/** Copies a file with a fresh SOP Instance UID (dcmodify -gin), for distinct instances. */
function distinctCopy(source: string, name: string): string {
  const target = join(dir.path, name);
  copyFileSync(source, target);
  execFileSync('dcmodify', ['-nb', '-gin', target]);
  return target;
}

before(async () => {
  port = await freePort();
  agent = new EdgeAgent(
    loadEdgeConfig(undefined, {
      VIGIL_CLINIC_ID: 'clinic-a',
      VIGIL_DEVICE_ID: 'edge-intake',
      VIGIL_DATA_DIR: join(dir.path, 'edge'),
      VIGIL_MQTT__URL: `mqtt://127.0.0.1:${await freePort()}`,
      VIGIL_DICOM__ENABLED: 'true',
      VIGIL_DICOM__PORT: String(port),
      VIGIL_DICOM__ALLOWED_CALLING_AE_TITLES: JSON.stringify(['MODALITY1', 'ECHOSCU']),
      VIGIL_WATCH_FOLDER__PATH: join(dir.path, 'inbox'),
      VIGIL_WATCH_FOLDER__INTERVAL_MS: '100',
      VIGIL_WATCH_FOLDER__STABLE_MS: '300',
      VIGIL_DEID__SECRET: SECRET,
    }),
    {
      imageSinks: [
        {
          accept: async (image) => {
            images.push(image);
          },
        },
      ],
    },
  );
  await agent.start();
});

after(async () => {
  await agent.stop();
  dir.remove();
});

test('C-ECHO and C-STORE of uncompressed and compressed proposals; images decoded as the originals', async () => {
  await run('echoscu', ['-aec', 'VIGIL', '127.0.0.1', String(port)]);
  // [file, storescu proposal flags, transfer syntax the SCP must have accepted and spooled]
  const cases: [string, string[], string][] = [
    [join(PYDICOM, 'MR_small.dcm'), [], '1.2.840.10008.1.2.1'],
    [join(PYDICOM, 'CT_small.dcm'), ['-xi'], '1.2.840.10008.1.2'],
    [join(PYDICOM, 'MR_small_jpeg_ls_lossless.dcm'), ['-xt', '-R'], '1.2.840.10008.1.2.4.80'],
    [join(PYDICOM, 'SC_rgb_jpeg_gdcm.dcm'), ['-xs', '-R'], '1.2.840.10008.1.2.4.70'],
    [join(PYDICOM, 'MR_small_jp2klossless.dcm'), ['-xv', '-R'], '1.2.840.10008.1.2.4.90'],
    [join(PYDICOM, 'MR_small_RLE.dcm'), ['-xr', '-R'], '1.2.840.10008.1.2.5'],
    [join(PYDICOM, 'image_dfl.dcm'), ['-xd', '-R'], '1.2.840.10008.1.2.1.99'],
  ];
  const sent = cases.map(([file, args, syntax], i) => ({ file: distinctCopy(file, `case-${i}.dcm`), args, syntax }));
  for (const s of sent) await storescu([s.file], s.args);
  await waitFor('all images processed', () => images.length >= sent.length, 30_000);
  for (const s of sent) {
    const expected = await inspectFile(s.file);
    assert.ok(expected.ok);
    const image = images.find((i) => i.attrs.sopInstanceUid === expected.sopInstanceUid);
    assert.ok(image, `processed ${s.file}`);
    assert.equal(image.transferSyntaxUid, s.syntax, 'spooled in the negotiated syntax, no transcoding');
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const v of image.pixels) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    const grey = image.attrs.samplesPerPixel === 1;
    const slope = grey ? image.attrs.rescaleSlope : 1;
    const intercept = grey ? image.attrs.rescaleIntercept : 0;
    assert.equal(Math.min(min * slope + intercept, max * slope + intercept), expected.pixel.min);
    assert.match(image.image.patientKey, /^[0-9a-f]{32}$/);
  }
  assert.equal(agent.counters.received, sent.length);
  // An image is counted as processed after the handler returns and the spool entry is settled.
  await waitFor('all counted as processed', () => agent.counters.processed === sent.length, 10_000);
});

test('a burst of four parallel associations: every instance arrives once; a resend is a duplicate', async () => {
  const before = images.length;
  const batches = Array.from({ length: 4 }, (_, b) =>
    Array.from({ length: 8 }, (_, i) => distinctCopy(join(PYDICOM, 'CT_small.dcm'), `burst-${b}-${i}.dcm`)),
  );
  await Promise.all(batches.map((files) => storescu(files)));
  await waitFor('burst processed', () => images.length >= before + 32, 60_000);
  const uids = new Set(images.slice(before).map((i) => i.attrs.sopInstanceUid));
  assert.equal(uids.size, 32);
  const duplicatesBefore = agent.counters.duplicates;
  await storescu([batches[0]?.[0] as string]);
  await waitFor('duplicate counted', () => agent.counters.duplicates === duplicatesBefore + 1, 10_000);
  await agent.intake?.pipeline.idle();
  assert.equal(images.length, before + 32, 'the duplicate was not processed again');
});

test('full-size mammograms over one and four associations arrive bit for bit (flushed to disk while they arrive)', async () => {
  // 3328 × 4096 16-bit: 27 MB each, several early flushes per instance and many buffered writes.
  const [patient] = planCohort(4242, 1, 1);
  const sources: { file: string; sha256: string }[] = [];
  for (let i = 0; i < 5; i++) {
    const pixels = new Uint16Array(3328 * 4096);
    for (let p = 0; p < pixels.length; p++) pixels[p] = (p * 2654435761 + i * 97) % 16384;
    const file = join(dir.path, `full-${i}.dcm`);
    await writeMammogram({
      path: file,
      patient: patient as NonNullable<typeof patient>,
      visitIndex: 0,
      laterality: i % 2 ? 'R' : 'L',
      view: 'CC',
      rows: 4096,
      columns: 3328,
      pixelSpacingMm: 0.07,
      pixels,
      seed: 4242 + i,
    });
    sources.push({ file, sha256: createHash('sha256').update(Buffer.from(pixels.buffer)).digest('hex') });
  }
  const before = images.length;
  await storescu([sources[0]?.file as string]);
  await Promise.all(sources.slice(1).map((s) => storescu([s.file])));
  await waitFor('the five full-size images processed', () => images.length >= before + 5, 120_000);
  const received = images.slice(before).map((i) =>
    createHash('sha256')
      .update(Buffer.from(i.pixels.buffer, i.pixels.byteOffset, i.pixels.byteLength))
      .digest('hex'),
  );
  assert.deepEqual(received.sort(), sources.map((s) => s.sha256).sort());
});

test('associations for another AE title, or from a calling AE not on the allow-list, are refused', async () => {
  await assert.rejects(
    run('storescu', ['-aec', 'NOT-VIGIL', '-aet', 'MODALITY1', '127.0.0.1', String(port), join(PYDICOM, 'CT_small.dcm')]),
    /Called AE Title Not Recognized/,
  );
  await assert.rejects(
    run('storescu', ['-aec', 'VIGIL', '-aet', 'INTRUDER', '127.0.0.1', String(port), join(PYDICOM, 'CT_small.dcm')]),
    /Calling AE Title Not Recognized/,
  );
});

test('watched folder: waits for a file to finish writing; bad files are quarantined with a JSON reason', async () => {
  const inbox = join(dir.path, 'inbox');
  const before = images.length;
  const source = readFileSync(distinctCopy(join(PYDICOM, 'MR_small.dcm'), 'folder-src.dcm'));
  // A modality writing slowly: a chunk every 100 ms (under stableMs), for longer than stableMs.
  const growing = join(inbox, 'slow.dcm');
  const chunk = Math.ceil(source.length / 8);
  for (let offset = 0; offset < source.length; offset += chunk) {
    appendFileSync(growing, source.subarray(offset, offset + chunk));
    await new Promise((r) => setTimeout(r, 100));
  }
  writeFileSync(join(inbox, 'notes.txt'), 'not an image '.repeat(20));
  const truncated = readFileSync(distinctCopy(join(PYDICOM, 'MR_small.dcm'), 'folder-trunc.dcm'));
  writeFileSync(join(inbox, 'cut.dcm'), truncated.subarray(0, truncated.length - 3000));
  await waitFor('folder image processed', () => images.length === before + 1, 15_000);
  assert.equal(images.at(-1)?.pixels.length, 64 * 64, 'the complete file was taken, not the partial one');
  const quarantine = join(dir.path, 'edge', 'quarantine');
  // The file is moved first, then its reason written, then it is counted: wait for all three.
  const reasons = await waitFor('two quarantined, moved and counted', () => {
    const names = readdirSync(quarantine);
    const files = names.filter((f) => f.endsWith('.json'));
    const moved = names.filter((f) => f.endsWith('.dcm')).length;
    return files.length >= 2 && moved >= 2 && agent.counters.quarantined >= 2
      ? files.map((f) => JSON.parse(readFileSync(join(quarantine, f), 'utf8')) as { code: string; input: string })
      : undefined;
  });
  assert.deepEqual(reasons.map((r) => r.code).sort(), ['VIGIL_DICOM_NOT_DICOM', 'VIGIL_DICOM_TRUNCATED']);
  assert.equal(
    readdirSync(quarantine).filter((f) => f.endsWith('.dcm')).length,
    2,
    'each quarantined file is kept beside its reason',
  );
  assert.ok(reasons.every((r) => r.input.startsWith(inbox)));
  assert.deepEqual(readdirSync(inbox), ['.vigil-taking'], 'nothing is left behind or lost');
  assert.deepEqual(readdirSync(join(inbox, '.vigil-taking')), [], 'every claimed file was finished');
  const telemetry = await agent.telemetry.sample();
  assert.ok(telemetry.pipeline.quarantined >= 2);
});

test('kill -9 right after C-STORE is acknowledged: the images are processed after restart', async () => {
  const killDir = makeTempDir('intake-kill');
  try {
    const killPort = await freePort();
    const env = {
      ...process.env,
      VIGIL_LOG_LEVEL: 'warn',
      VIGIL_CLINIC_ID: 'clinic-a',
      VIGIL_DEVICE_ID: 'edge-kill',
      VIGIL_DATA_DIR: killDir.path,
      VIGIL_MQTT__URL: `mqtt://127.0.0.1:${await freePort()}`,
      VIGIL_DICOM__ENABLED: 'true',
      VIGIL_DICOM__PORT: String(killPort),
      VIGIL_DICOM__ALLOW_ANY_CALLING_AE: 'true',
      VIGIL_DEID__SECRET: SECRET,
      VIGIL_IMAGING__CONCURRENCY: '1',
    };
    const bin = join(import.meta.dirname, '../bin/vigil-edge.mjs');
    const big = join(killDir.path, 'big.dcm');
    execFileSync('/usr/bin/python3', [join(PY, 'make_test_image.py'), big, '1536', '1280', '14', '0', 'MG']);
    const j2k = join(killDir.path, 'big-j2k.dcm');
    execFileSync('gdcmconv', ['--j2k', big, j2k]);
    const files = Array.from({ length: 6 }, (_, i) => distinctCopy(j2k, `kill-${i}.dcm`));
    let child = spawn(process.execPath, [bin, 'serve'], { env, stdio: 'ignore' });
    await waitFor(
      'SCP up',
      async () =>
        await run('echoscu', ['-aec', 'VIGIL', '127.0.0.1', String(killPort)]).then(
          () => true,
          () => false,
        ),
      30_000,
      200,
    );
    await run('storescu', ['-xv', '-R', '-aec', 'VIGIL', '127.0.0.1', String(killPort), ...files]);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const ready = join(killDir.path, 'spool', 'ready');
    const left = readdirSync(ready).length;
    assert.ok(left > 0, 'some acknowledged images were not processed yet when the agent died');
    child = spawn(process.execPath, [bin, 'serve'], { env, stdio: 'ignore' });
    try {
      await waitFor('spool drained after restart', () => readdirSync(ready).length === 0, 60_000, 200);
      await waitFor('ledger records every instance as processed', () => {
        const db = new Database(join(killDir.path, 'intake.sqlite'), { readonly: true });
        try {
          return (
            (db.prepare("SELECT COUNT(*) AS n FROM instances WHERE state = 'processed'").get() as { n: number }).n ===
            files.length
          );
        } finally {
          db.close();
        }
      });
    } finally {
      child.kill('SIGKILL');
    }
  } finally {
    killDir.remove();
  }
});

test('when the spool cannot be written the modality gets 0xA700 (Out of Resources), and the resend succeeds', async () => {
  const incoming = join(dir.path, 'edge', 'spool', 'incoming');
  const file = distinctCopy(join(PYDICOM, 'CT_small.dcm'), 'spool-full.dcm');
  const before = images.length;
  // Fault injection: the spool's incoming directory becomes unusable (as a full disk would make it).
  rmSync(incoming, { recursive: true, force: true });
  writeFileSync(incoming, 'not a directory');
  try {
    const failed = await storescu([file], ['-v']).then(
      (r) => r.stdout + r.stderr,

      (error: { stderr?: string }) => error.stderr ?? '',
    );
    assert.match(failed, /a700|Out of Resources|Refused/i);
    assert.equal(images.length, before, 'nothing was acknowledged or processed');
  } finally {
    rmSync(incoming, { force: true });
    mkdirSync(incoming);
  }
  await storescu([file]);
  await waitFor('the resend is processed', () => images.length === before + 1, 15_000);
});
