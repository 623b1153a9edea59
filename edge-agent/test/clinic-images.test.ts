// Issue 27: clinicians see the images. Each clinic's edge keeps the images it analysed and serves
// them over DICOMweb to a browser holding the hub's short-lived token for that edge; the dashboard's
// viewer (Cornerstone3D) draws them with the model's marks, takes verdicts and missed findings by
// click and key, and hangs the prior beside the current. The hub never holds a pixel, a name or an
// original UID. Screenshots: test-artifacts/screenshots/13-*.png … 16-*.png.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { reidSigningKey } from '@vigil/cloud-hub';
import { EdgeAgent, loadEdgeConfig } from '@vigil/edge-agent';
import { createLogger, pseudonym, pseudonymUid, reidAudience, signReidToken } from '@vigil/shared';
import { chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { currentTotp } from '../../cloud-hub/src/auth/totp.js';
import { provisionUser } from '../../cloud-hub/src/auth/user-provisioning.js';
// @ts-expect-error plain ESM helper without types
import { ensureDashboard } from '../../scripts/ensure-dashboard.mjs';
import { clinicEndpointEnv } from '../../scripts/harness/clinic-endpoint.js';
import { freePort } from '../../scripts/harness/free-port.js';
import { edgeEnv, startTestHub } from '../../scripts/harness/hub-fixture.js';
import { BUNDLED_MODEL } from '../../scripts/harness/model-packages.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { generatePhantoms } from '../../scripts/phantoms/generate-phantoms.js';
import { decodeFile } from '../src/imaging/decode-file.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const SHOTS = join(ROOT, 'test-artifacts', 'screenshots');
const SECRET = 'viewer-test-pseudonym-secret-0123456789';
const SIZE = (process.env.VIGIL_VIEWER_TEST_SIZE ?? '1024x832').split('x').map(Number) as [number, number];

type Box = [number, number, number, number];
const iso = (yyyymmdd: string) => `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`;
const boxOf = async (page: Page, slot: number): Promise<Box> =>
  ((await page.locator(`[data-viewport="vigil-view-${slot}"]`).getAttribute('data-image-box')) ?? '')
    .split(',')
    .map(Number) as Box;

/** Pearson correlation of two equal-length series. */
function correlation(a: number[], b: number[]): number {
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const [da, db] = [(a[i] as number) - ma, (b[i] as number) - mb];
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

test('clinic images: served by the clinic edge only, drawn in the dashboard viewer with marks, priors and verdicts', async () => {
  ensureDashboard();
  mkdirSync(SHOTS, { recursive: true });
  const dir = makeTempDir('viewer');
  const ports = { 'mg-a': await freePort(), 'mg-b': await freePort() };
  const hubLog: string[] = [];
  const hub = await startTestHub(
    {
      auth: { loginRateLimitPerMinute: 1000 },
      reid: { edgeOrigins: Object.values(ports).map((p) => `http://127.0.0.1:${p}`) },
    },
    {},
    {
      // At info whatever VIGIL_LOG_LEVEL says (npm test silences logs): the scan below reads them.
      logger: createLogger(
        'vigil-hub',
        { level: 'info' },
        new Writable({
          write(chunk, _enc, done) {
            hubLog.push(String(chunk));
            done();
          },
        }),
      ),
    },
  );
  const agents: EdgeAgent[] = [];
  try {
    const truth = await generatePhantoms({
      out: join(dir.path, 'phantoms'),
      patients: 2,
      visits: 2,
      seed: 2727,
      // VIGIL_VIEWER_TEST_SIZE=4096x3328 measures the viewer on full-size mammograms (the closing note's figure).
      rows: SIZE[0],
      columns: SIZE[1],
    });
    const { publicKeyFile } = reidSigningKey(hub.hub.config.dataDir, '');
    const edge = async (clinicId: string, deviceId: 'mg-a' | 'mg-b', files: string[], extra: Record<string, string> = {}) => {
      const password = await hub.addDevice(clinicId, deviceId);
      const inbox = join(dir.path, deviceId, 'inbox');
      const agent = new EdgeAgent(
        loadEdgeConfig(undefined, {
          ...edgeEnv({
            clinicId,
            deviceId,
            password,
            mqttUrl: hub.mqttUrl,
            dataDir: join(dir.path, deviceId),
            telemetryIntervalS: 0.3,
          }),
          VIGIL_HUB_URL: hub.httpUrl,
          VIGIL_MODEL__DIR: BUNDLED_MODEL,
          VIGIL_DEID__SECRET: SECRET,
          VIGIL_WATCH_FOLDER__PATH: inbox,
          VIGIL_WATCH_FOLDER__INTERVAL_MS: '100',
          VIGIL_WATCH_FOLDER__STABLE_MS: '0',
          ...clinicEndpointEnv({ port: ports[deviceId], hubPublicKeyFile: publicKeyFile, dashboardUrl: hub.httpUrl }),
          ...extra,
        }),
      );
      agents.push(agent);
      await agent.start();
      mkdirSync(inbox, { recursive: true });
      for (const [k, file] of files.entries()) cpSync(join(dir.path, 'phantoms', file), join(inbox, `image-${k}.dcm`));
      return agent;
    };
    const [pa, pb] = truth.patients as [(typeof truth.patients)[0], (typeof truth.patients)[0]];
    const filesA = pa.visits.flatMap((v) => v.images.map((i) => i.file));
    const a = await edge('clinic-a', 'mg-a', filesA, { VIGIL_VIEWING__REQUESTS_PER_MINUTE: '400' });
    await edge(
      'clinic-b',
      'mg-b',
      (pb.visits[0]?.images ?? []).map((i) => i.file),
    );
    const total = filesA.length + (pb.visits[0]?.images.length ?? 0);
    await waitFor('every result at the hub', async () => (await hub.hub.state.countResults()) === total, 240_000);
    const keyA = pseudonym(SECRET, 'patient', `VIGIL-PHANTOMS|${pa.patientId}`);
    const keyB = pseudonym(SECRET, 'patient', `VIGIL-PHANTOMS|${pb.patientId}`);
    const resultsA = (await hub.hub.state.queryResults({ patientKey: keyA, limit: 50 })).items;
    const resultsB = (await hub.hub.state.queryResults({ patientKey: keyB, limit: 50 })).items;
    assert.equal(resultsA.length, filesA.length);
    assert.ok(
      resultsA.some((r) => r.findings.length > 0),
      'the model marks something on these phantoms (else the mark checks below would check nothing)',
    );

    // --- The edge's DICOMweb, from Node: scope, tokens, frames -------------------------------------------
    const hubKey = readFileSync(join(hub.hub.config.dataDir, 'reid-signing-key.pem'), 'utf8');
    const drA = { username: 'dr.a', role: 'clinician', clinics: ['clinic-a'] };
    const tokenA = (await signReidToken(drA, hubKey, 60, reidAudience('clinic-a', 'mg-a'))).token;
    const urlA = a.reidUrl() as string;
    const get = (path: string, token: string) => fetch(`${urlA}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const first = resultsA[0];
    assert.ok(first);
    const study = pseudonymUid(first.studyKey);
    const metadata = await get(`/dicomweb/studies/${study}/metadata`, tokenA);
    assert.equal(metadata.status, 200);
    assert.match(metadata.headers.get('content-type') ?? '', /application\/dicom\+json/);
    const instances = (await metadata.json()) as Record<string, { Value?: unknown[]; BulkDataURI?: string }>[];
    assert.equal(instances.length, 4, 'the four views of the study');
    const inst = instances.find((j) => j['00080018']?.Value?.[0] === pseudonymUid(first.instanceKey));
    assert.ok(inst, 'instances are addressed by the UIDs of the hub’s pseudonyms');
    assert.equal(inst['00280010']?.Value?.[0], first.image.rows);
    assert.equal(inst['00280011']?.Value?.[0], first.image.columns);
    // The frame is the image's own stored values, byte for byte.
    const frame = await get(new URL(inst['7FE00010']?.BulkDataURI as string).pathname, tokenA);
    assert.equal(frame.status, 200);
    const type = frame.headers.get('content-type') ?? '';
    assert.match(type, /^multipart\/related; type="application\/octet-stream"/);
    const body = Buffer.from(await frame.arrayBuffer());
    const boundary = /boundary=([^;]+)/.exec(type)?.[1] as string;
    const start = body.indexOf('\r\n\r\n') + 4;
    const pixels = body.subarray(start, body.length - `\r\n--${boundary}--\r\n`.length);
    const source = pa.visits
      .flatMap((v) => v.images)
      .find((i) => pseudonym(SECRET, 'instance', i.sopInstanceUid) === first.instanceKey);
    assert.ok(source);
    const decoded = await decodeFile(join(dir.path, 'phantoms', source.file));
    const patientName = (decoded.parsed.dataSet.string('x00100010') ?? '').split('^')[0] ?? '';
    assert.ok(patientName.length > 2, 'the phantom has a name to look for');
    const expected = Buffer.from(decoded.frame.pixels.buffer, decoded.frame.pixels.byteOffset, decoded.frame.pixels.byteLength);
    assert.ok(pixels.equals(expected), 'the served frame is the decoded image');
    // QIDO: the same instances, without bulk data.
    const qido = (await (await get(`/dicomweb/studies/${study}/instances`, tokenA)).json()) as Record<string, unknown>[];
    assert.equal(qido.length, 4);
    assert.ok(qido.every((j) => !('7FE00010' in j)));

    // Another clinic's study is not here; another clinic's user is refused; bad tokens are 401.
    const studyB = pseudonymUid((resultsB[0] as (typeof resultsB)[0]).studyKey);
    const notHere = await get(`/dicomweb/studies/${studyB}/metadata`, tokenA);
    assert.equal(notHere.status, 404);
    assert.equal(((await notHere.json()) as { error: { code: string } }).error.code, 'VIGIL_IMAGE_NOT_HELD');
    const drB = { username: 'dr.b', role: 'clinician', clinics: ['clinic-b'] };
    const ofB = (await signReidToken(drB, hubKey, 60, reidAudience('clinic-a', 'mg-a'))).token;
    assert.equal((await get(`/dicomweb/studies/${study}/metadata`, ofB)).status, 403, "a clinic-B user at clinic A's edge");
    const frameUrl = new URL(inst['7FE00010']?.BulkDataURI as string).pathname;
    assert.equal((await get(frameUrl, ofB)).status, 403, 'nor its frames');
    const expired = (await signReidToken(drA, hubKey, -60, reidAudience('clinic-a', 'mg-a'))).token;
    const late = await get(frameUrl, expired);
    assert.equal(late.status, 401);
    assert.equal(((await late.json()) as { error: { code: string } }).error.code, 'VIGIL_REID_TOKEN_INVALID');
    const otherEdge = (await signReidToken(drA, hubKey, 60, reidAudience('clinic-b', 'mg-b'))).token;
    assert.equal((await get(frameUrl, otherEdge)).status, 401, 'a token for edge B does not open edge A');
    assert.equal((await get(frameUrl, '')).status, 401);
    assert.equal((await get('/dicomweb/studies/1.2.3/metadata', tokenA)).status, 400, 'an original UID is not an address');
    const preflight = await fetch(`${urlA}${frameUrl}`, {
      method: 'OPTIONS',
      headers: { origin: hub.httpUrl, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), hub.httpUrl, 'the dashboard may fetch frames');

    // --- The viewer, in Chromium --------------------------------------------------------------------------
    const dr = await provisionUser(hub.hub.auth, hub.hub.state.audit, {
      username: 'dr.a',
      role: 'clinician',
      enrolTotp: true,
      actor: 'test',
      clinics: ['clinic-a'],
    });
    await waitFor('edges advertise their endpoints', async () => {
      const states = await hub.hub.state.listDeviceStates();
      return states.filter((s) => s.lastTelemetry?.reid?.url).length === 2;
    });
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
    const hubBodies: string[] = [];
    try {
      const page = await (await browser.newContext({ viewport: { width: 1500, height: 1100 } })).newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') console.log(`browser ${m.type()}: ${m.text()}`);
      });
      page.on('response', async (r) => {
        if (r.url().startsWith(hub.httpUrl) && /json/.test(r.headers()['content-type'] ?? ''))
          hubBodies.push(await r.text().catch(() => ''));
      });
      await page.goto(hub.httpUrl);
      await page.getByLabel('Username').fill('dr.a');
      await page.getByLabel('Password').fill(dr.password);
      await page.getByLabel(/Authenticator code/).fill(await currentTotp(dr.totpSecret ?? '', Date.now() + 30_000));
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Alerts' }).waitFor();

      // First image on screen: from opening the patient's page (the dashboard settled after sign-in,
      // as when a clinician picks a patient from the alerts) to a drawn frame.
      await page.waitForLoadState('networkidle');
      const opened = Date.now();
      await page.goto(`${hub.httpUrl}/#/patients/${keyA}`);
      await page.locator('[data-viewport][data-state="shown"]').first().waitFor({ timeout: 60_000 });
      const firstImageMs = Date.now() - opened;
      await page.locator('[data-viewport][data-state="shown"]').nth(3).waitFor({ timeout: 60_000 });
      const allFourMs = Date.now() - opened;
      const phases = await Promise.all(
        [0, 1, 2, 3].map(async (slot) => {
          const host = page.locator(`[data-viewport="vigil-view-${slot}"]`);
          const [fetchMs, prepareMs, drawMs] = await Promise.all(
            ['fetch', 'prepare', 'draw'].map((p) => host.getAttribute(`data-${p}-ms`)),
          );
          return { fetchMs: Number(fetchMs), prepareMs: Number(prepareMs), drawMs: Number(drawMs) };
        }),
      );
      const panelStarted = await page.locator('.viewer').getAttribute('data-render-started-at');
      console.log(`viewer phases: panel started at ${panelStarted} ms; ${JSON.stringify(phases)}`);
      mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
      writeFileSync(
        join(ROOT, 'test-artifacts', 'viewer-timing.json'),
        `${JSON.stringify({ firstImageMs, allFourMs, panelStartedMs: Number(panelStarted), phases, images: `4 × ${SIZE[0]}×${SIZE[1]} 16-bit`, at: new Date().toISOString() }, null, 2)}\n`,
      );
      console.log(`viewer: first image on screen ${firstImageMs} ms, all four ${allFourMs} ms after opening the patient`);
      assert.equal(await page.getByText('Visit 2 of 2').count(), 1, 'the latest visit first');
      // Hung back to back: each breast's chest wall towards the middle of the screen (the right
      // breast's on the right of its tile, the left breast's on the left), whatever side it was stored.
      for (const [slot, wallOnRight] of [
        [0, true],
        [1, false],
      ] as const) {
        const tile = await sharp(await page.locator(`[data-viewport="vigil-view-${slot}"]`).screenshot())
          .greyscale()
          .raw()
          .toBuffer({ resolveWithObject: true });
        const bx = await boxOf(page, slot);
        const [x0, x1] = [Math.min(bx[0], bx[2]), Math.max(bx[0], bx[2])];
        const band = (from: number) => {
          let sum = 0;
          for (let y = Math.round(bx[1]); y < Math.round(bx[3]); y += 3)
            for (let x = from; x < from + 8; x++) sum += tile.data[y * tile.info.width + x] as number;
          return sum;
        };
        const [left, right] = [band(Math.ceil(x0) + 1), band(Math.floor(x1) - 9)];
        assert.equal(right > left, wallOnRight, `tile ${slot}: chest wall on the ${wallOnRight ? 'right' : 'left'}`);
      }

      // The pixels are the image: the screen's column profile inside the image box follows the image's.
      const latest = pa.visits[1];
      assert.ok(latest);
      const rcc = latest.images.find((i) => i.laterality === 'R' && i.view === 'CC');
      assert.ok(rcc);
      const box = await boxOf(page, 0);
      const shot = await page.locator('[data-viewport="vigil-view-0"]').screenshot();
      await page.screenshot({ path: join(SHOTS, '13-viewer-four-views.png'), fullPage: true });
      const { data, info } = await sharp(shot).greyscale().raw().toBuffer({ resolveWithObject: true });
      const raw = await decodeFile(join(dir.path, 'phantoms', rcc.file));
      const bins = 16;
      const screenProfile: number[] = [];
      const imageProfile: number[] = [];
      for (let k = 0; k < bins; k++) {
        const u = (k + 0.5) / bins;
        let s = 0;
        let n = 0;
        const sx = Math.round(box[0] + u * (box[2] - box[0]));
        for (let y = Math.max(0, Math.round(box[1])); y < Math.min(info.height, Math.round(box[3])); y += 2) {
          s += data[y * info.width + sx] as number;
          n++;
        }
        screenProfile.push(s / Math.max(1, n));
        let t = 0;
        const cx = Math.floor(u * raw.attrs.columns);
        for (let y = 0; y < raw.attrs.rows; y += 4) t += raw.frame.pixels[y * raw.attrs.columns + cx] as number;
        imageProfile.push(t / (raw.attrs.rows / 4));
      }
      const r = correlation(screenProfile, imageProfile);
      assert.ok(r > 0.9, `the drawn image follows the image (r = ${r.toFixed(3)}; screen ${screenProfile.map(Math.round)})`);
      assert.ok(Math.max(...screenProfile) - Math.min(...screenProfile) > 40, 'contrast on screen, not a blank canvas');

      // Marks land where the findings are.
      const marks = page.locator('[data-viewport] g.mark-finding');
      assert.ok((await marks.count()) > 0, 'the model’s findings are drawn');
      const latestResults = resultsA.filter((x) => x.studyDate === iso(latest.studyDate));
      for (let slot = 0; slot < 4; slot++) {
        const host = page.locator(`[data-viewport="vigil-view-${slot}"]`);
        const b = await boxOf(page, slot);
        for (const g of await host.locator('g.mark-finding').all()) {
          const [resultId, index] = ((await g.getAttribute('data-mark')) ?? '').split(':');
          const finding = latestResults.find((x) => x.messageId === resultId)?.findings[Number(index)];
          assert.ok(finding, `mark ${resultId}:${index} is a finding of this visit`);
          const cx = Number(await g.getAttribute('data-cx'));
          const cy = Number(await g.getAttribute('data-cy'));
          assert.ok(Math.abs(cx - (b[0] + finding.x * (b[2] - b[0]))) < 2, 'x on screen');
          assert.ok(Math.abs(cy - (b[1] + finding.y * (b[3] - b[1]))) < 2, 'y on screen');
        }
      }

      // Window/level by dragging (left button), zoom by the wheel, and 'r' puts both back.
      const tile2 = page.locator('[data-viewport="vigil-view-2"]');
      const meanOf = async () => {
        const { data: d } = await sharp(await tile2.screenshot())
          .greyscale()
          .raw()
          .toBuffer({ resolveWithObject: true });
        return d.reduce((sum, v) => sum + v, 0) / d.length;
      };
      const before = await meanOf();
      const t2 = await tile2.boundingBox();
      assert.ok(t2);
      await page.mouse.move(t2.x + t2.width / 2, t2.y + t2.height / 2);
      await page.mouse.down();
      await page.mouse.move(t2.x + t2.width / 2 + 120, t2.y + t2.height / 2 + 120, { steps: 8 });
      await page.mouse.up();
      const leveled = await meanOf();
      assert.ok(
        Math.abs(leveled - before) > 3,
        `window/level changed the picture (${before.toFixed(1)} → ${leveled.toFixed(1)})`,
      );
      await page.keyboard.press('r');
      await waitFor('reset to the image’s own window', async () => Math.abs((await meanOf()) - before) < 1, 10_000);

      // Keyboard: next finding, confirm it.
      await page.keyboard.press('n');
      await page.locator('.viewer-finding.is-selected').waitFor();
      const selectedId = (await page.locator('.viewer-finding.is-selected').getAttribute('data-finding')) as string;
      await page.keyboard.press('y');
      await waitFor('the confirmation at the hub', async () =>
        (await hub.hub.state.verdicts.current({ patientKey: keyA })).some(
          (v) => v.subject === `finding:${selectedId}` && (v.value as { verdict: string }).verdict === 'confirmed',
        ),
      );

      // A click adds a missed finding where it was clicked, in image coordinates.
      await page.keyboard.press('m');
      const target = { x: 0.3, y: 0.62 };
      const b3 = await boxOf(page, 3);
      const host3 = page.locator('[data-viewport="vigil-view-3"]');
      await host3.click({
        position: { x: b3[0] + target.x * (b3[2] - b3[0]), y: b3[1] + target.y * (b3[3] - b3[1]) },
      });
      const lmlo = latestResults.find((x) => x.laterality === 'L' && x.view === 'MLO');
      assert.ok(lmlo);
      await waitFor('the missed finding at the hub', async () =>
        (await hub.hub.state.verdicts.current({ patientKey: keyA })).some((v) => v.kind === 'missed'),
      );
      const missed = (await hub.hub.state.verdicts.current({ patientKey: keyA })).find((v) => v.kind === 'missed');
      const value = missed?.value as { resultId: string; x: number; y: number; diameterMm: number };
      assert.equal(value.resultId, lmlo.messageId, 'on the image clicked');
      assert.ok(Math.abs(value.x - target.x) < 0.01 && Math.abs(value.y - target.y) < 0.01, JSON.stringify(value));
      await host3.locator('g.mark-missed').waitFor();
      assert.match((await host3.locator('g.mark-missed text').textContent()) ?? '', /missed/, 'labelled, not only coloured');
      await page.screenshot({ path: join(SHOTS, '14-viewer-missed-finding-added.png'), fullPage: true });

      // Follow-up reading: prior beside current, stepping through visits without a reload.
      await page.evaluate('window.vigilMarker = 42');
      await page.keyboard.press('v');
      await page.locator('[data-viewport="vigil-view-0"][data-state="shown"]').waitFor();
      await page.locator('.viewport-caption', { hasText: 'prior' }).waitFor();
      const captions = await page.locator('.viewport:not([hidden]) .viewport-caption').allTextContents();
      assert.equal(captions.length, 2);
      assert.match(captions[0] ?? '', new RegExp(`prior · ${iso(pa.visits[0]?.studyDate ?? '')}`));
      assert.match(captions[1] ?? '', new RegExp(`current · ${iso(latest.studyDate)}`));
      await page.waitForFunction('document.querySelectorAll(\'[data-viewport][data-state="shown"]\').length >= 2');
      // The lesion followed is ringed in both, its sizes listed beside them.
      for (const slot of [0, 1]) await page.locator(`[data-viewport="vigil-view-${slot}"] g.mark-tracked`).waitFor();
      const sizes = await page.locator('.viewer-trend-list li').allTextContents();
      assert.equal(sizes.length, 2, `the tracked lesion in both visits: ${sizes}`);
      assert.match(sizes[0] ?? '', new RegExp(`^${iso(pa.visits[0]?.studyDate ?? '')}: \\d+\\.\\d mm`));
      await page.screenshot({ path: join(SHOTS, '15-viewer-prior-beside-current.png'), fullPage: true });
      await page.keyboard.press('[');
      await page.getByText('Visit 1 of 2').waitFor();
      assert.equal(await page.evaluate('window.vigilMarker'), 42, 'the page was not reloaded');
      assert.deepEqual(errors, []);

      // Audited at the edge and at the hub, pseudonyms only.
      await waitFor('image views in the hub audit log', async () => {
        const items = (await hub.hub.state.audit.list({ action: 'patient.images.view', limit: 100 })).items;
        return items.some((e) => e.actor === 'dr.a' && e.patientKey === keyA);
      });
      const refused = (await hub.hub.state.audit.list({ action: 'reid.event', limit: 200 })).items.filter(
        (e) => (e.details as { kind?: string }).kind === 'images' && e.outcome === 'failure',
      );
      assert.ok(refused.length >= 3, 'refusals are audited too');

      // The edge down: the page says so, and the rest works.
      await a.stop();
      agents.splice(agents.indexOf(a), 1);
      await page.reload();
      await page
        .locator('.viewer-status', { hasText: /Images unavailable at the clinic right now/ })
        .waitFor({ timeout: 30_000 });
      assert.equal(await page.locator('[data-viewport][data-state="shown"]').count(), 0);
      await page.getByRole('heading', { name: 'Findings and verdicts' }).waitFor();
      await page.getByRole('heading', { name: 'Finding size over time' }).waitFor();
      await page.screenshot({ path: join(SHOTS, '16-viewer-edge-down.png'), fullPage: true });
    } finally {
      await browser.close();
    }

    // No pixel, name or original UID at the hub: not in its files, its log, or what it answered.
    const sample = expected.subarray(expected.length / 2, expected.length / 2 + 64);
    const originals = [
      patientName,
      pa.patientId,
      ...pa.visits.flatMap((v) => [v.studyInstanceUid, ...v.images.map((i) => i.sopInstanceUid)]),
    ];
    const files: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(hub.dataDir);
    assert.ok(files.length > 0);
    const everything = [...files.map((f) => readFileSync(f)), Buffer.from(hubLog.join('')), Buffer.from(hubBodies.join(''))];
    for (const blob of everything) {
      assert.ok(!blob.includes(sample), 'no pixel data at the hub');
      for (const phi of originals) assert.ok(!blob.includes(Buffer.from(phi)), `no ${phi} at the hub`);
    }
    assert.ok(hubBodies.length > 0 && hubLog.length > 0, 'the scan saw answers and log lines');
    assert.ok(existsSync(join(dir.path, 'mg-a', 'images')), 'the pixels are at the clinic');
  } finally {
    for (const agent of agents) await agent.stop();
    await hub.stop();
    dir.remove();
  }
});
