import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiClient, login } from '../harness/api-client.js';
import { makeTempDir } from '../harness/temp-dir.js';

const ROOT = join(import.meta.dirname, '../..');

/**
 * `npm run demo` for four rounds of studies with no pause between them; it stops by itself once every
 * image is processed and stored. The timeout only bounds a hang. Fine-tuning itself is covered by
 * scripts/test/retrain.test.ts.
 */
function runDemo(dir: string, extra: string[] = []) {
  return spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'scripts/demo.ts'),
      ...extra,
      '--rounds',
      '4',
      '--study-interval',
      '0',
      '--dir',
      dir,
      '--skip-feedback-training',
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 280_000 },
  );
}

test('npm run demo: three clinics online, studies through DICOM intake, follow-up alerts, demo users can log in', async () => {
  const dir = makeTempDir('demo');
  try {
    // Four rounds of studies, so each clinic's first patient has all four visits; the demo stops once
    // every image is processed and stored (a condition, however long a busy machine takes).
    const run = runDemo(dir.path);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /3\/3 devices online, [1-9]\d* telemetry samples stored/);
    // The simulated modalities' studies went through DICOM intake and were decoded at every clinic.
    for (const device of ['north-mg-1', 'south-mg-1', 'east-mg-1']) {
      assert.match(
        run.stdout,
        new RegExp(`${device}\\s+online\\s+images\\s+([4-9]|\\d{2,}) in /\\s+([4-9]|\\d{2,}) done`),
        device,
      );
    }
    assert.match(run.stdout, /east-mg-1 .* 1 quarantined/, 'the corrupt file was quarantined');
    assert.match(run.stdout, /telemetry samples stored, [1-9]\d* results stored/, 'inference results reached the hub');
    assert.match(run.stdout, /Vigil demo stopped/);
    assert.match(run.stdout, /Dashboard {4}http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(run.stdout, /Demo user {4}clinician \/ \S{16,}/);
    assert.match(run.stdout, /TOTP secret {2}[A-Z2-7]{16,}/);
    // Patients came back for follow-up visits and the hub derived alerts from their timelines.
    const followUp = [
      ...run.stdout.matchAll(/follow-up: (\d+) patients \((\d+) with follow-up studies\), (\d+) open alerts/g),
    ].at(-1);
    assert.ok(followUp, run.stdout);
    assert.ok(Number(followUp[1]) >= 3 && Number(followUp[2]) >= 3, `patients with follow-up: ${followUp[0]}`);
    assert.ok(Number(followUp[3]) >= 1, 'alerts were raised');
    assert.match(run.stdout, /\d+ overdue/, 'the patient whose last visit was over a year ago is overdue');
    // At the end the demo judges its alerts against its phantoms' truth, per level.
    const judged =
      /alerts judged against the phantoms' truth: (\d+) patients; inbox (\d+) alerts \([\d.]+ per patient\), (\d+) right; to review (\d+) \([\d.]+ per patient\), (\d+) right/.exec(
        run.stdout,
      );
    assert.ok(judged, run.stdout);
    const [, judgedPatients, inbox, inboxRight, review, reviewRight] = judged.map(Number) as number[];
    assert.ok((judgedPatients ?? 0) >= 3, judged[0]);
    assert.ok((inboxRight ?? 0) <= (inbox ?? 0) && (reviewRight ?? 0) <= (review ?? 0), judged[0]);
    assert.ok((inbox ?? 0) + (review ?? 0) >= 1, 'the judged alerts include the ones raised');
    // Results went back to each clinic's PACS.
    const delivered = [...run.stdout.matchAll(/results to the clinics' PACS: (\d+) objects/g)].at(-1);
    assert.ok(delivered && Number(delivered[1]) >= 3, `SRs delivered to the demo PACS: ${delivered?.[0]}`);
    // The feedback loop: verdicts → performance → each edge's own training set → a fine-tuned, published model.
    assert.match(run.stdout, /feedback: [1-9]\d* verdicts on [1-9]\d* studies .* → PPV \d+ % \[/);
    assert.match(run.stdout, /feedback: training sets assembled at 3 clinics' edges: [1-9]\d* images/);
    const file = join(dir.path, 'demo-credentials.json');
    const credentials = JSON.parse(readFileSync(file, 'utf8')) as {
      devices: { deviceId: string; password: string }[];
      users: { username: string; role: string; password: string; totpSecret: string }[];
    };
    assert.equal(credentials.devices.length, 3);
    assert.ok(credentials.devices.every((d) => d.password.length >= 24));
    assert.equal(statSync(file).mode & 0o077, 0, 'credentials file is private');
    assert.deepEqual(
      credentials.users.map((u) => u.role),
      ['clinician', 'ops', 'admin'],
    );
    // The demo's stored state serves the API: a fresh hub on the same data directory, the demo
    // clinician's password and TOTP, and the alerts the demo raised.
    const { Hub, loadHubConfig } = await import('@vigil/cloud-hub');
    const hub = new Hub(
      loadHubConfig(undefined, {}, { dataDir: join(dir.path, 'demo', 'hub'), http: { port: 0 }, mqtt: { listen: { port: 0 } } }),
    );
    await hub.start();
    try {
      const user = credentials.users[0];
      assert.ok(user);
      const { client, response } = await login(
        `http://127.0.0.1:${hub.httpPort}`,
        user.username,
        user.password,
        user.totpSecret,
        1,
      );
      assert.equal(response.status, 200);
      const alerts = await client.get<{ items: { kind: string; reason: string }[] }>('/api/v1/alerts?limit=500&status=open');
      assert.ok(alerts.body.items.some((a) => a.kind === 'overdue'));
      const patients = await client.get<{ items: { studies: number }[] }>('/api/v1/patients?limit=100');
      assert.ok(
        patients.body.items.some((p) => p.studies >= 4),
        'a patient with all four visits',
      );
      assert.equal((await new ApiClient(`http://127.0.0.1:${hub.httpPort}`).get('/api/v1/alerts')).status, 401);
    } finally {
      await hub.stop();
    }
  } finally {
    dir.remove();
  }
});

const MIAS = join(import.meta.dirname, '../../../shared/data/mias-train');

test('npm run demo -- --dataset: real film mammograms through C-STORE, verdicts from their truth, training sets at the edges', {
  skip: !existsSync(MIAS),
}, () => {
  const dir = makeTempDir('demo-dataset');
  try {
    const run = runDemo(dir.path, ['--dataset', MIAS, '--dataset-women', '12']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Real images: 12 women of .*mias-train/);
    // Two MLO images per woman, four women per clinic, all through each edge's DICOM intake (the
    // per-device counts are telemetry, a sample behind; the hub's stored results are the record).
    for (const device of ['north-mg-1', 'south-mg-1', 'east-mg-1'])
      assert.match(run.stdout, new RegExp(`${device}\\s+online\\s+images\\s+8 in /`), device);
    assert.match(run.stdout, /telemetry samples stored, 24 results stored/);
    assert.match(run.stdout, /simulated modality sends the real images of 12 women/);
    assert.match(run.stdout, /feedback: [1-9]\d* verdicts on [1-9]\d* studies \(simulated from the images' truth\)/);
    assert.match(run.stdout, /feedback: training sets assembled at \d clinics' edges: [1-9]\d* images/);
    assert.match(run.stdout, /no follow-up alerts to judge on a dataset/);
    // The converted images stayed outside the repository and are gone after the run.
    assert.ok(!existsSync(join(dir.path, 'demo', 'converted')));
  } finally {
    dir.remove();
  }
});
