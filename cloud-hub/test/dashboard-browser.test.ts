// The dashboard in headless Debian Chromium (driven by playwright-core, never a downloaded browser):
// log in with password + TOTP, open a patient timeline, acknowledge an alert, find it in the audit
// log. Screenshots go to test-artifacts/screenshots/ for people to look at.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { type DeviceAddress, topicFor } from '@vigil/shared';
import { type Browser, chromium, type Page } from 'playwright-core';
// @ts-expect-error plain ESM helper without types
import { ensureDashboard } from '../../scripts/ensure-dashboard.mjs';
import { statusMessage, telemetrySample } from '../../scripts/harness/fleet-messages.js';
import { patientKeyOf, studyResult } from '../../scripts/harness/followup-results.js';
import { startTestHub, type TestHub } from '../../scripts/harness/hub-fixture.js';
import { currentTotp } from '../src/auth/totp.js';
import { type ProvisionedUser, provisionUser } from '../src/auth/user-provisioning.js';

const SHOTS = join(new URL('../..', import.meta.url).pathname, 'test-artifacts', 'screenshots');
let h: TestHub;
let browser: Browser;
let clinician: ProvisionedUser;
let admin: ProvisionedUser;

async function submit(address: DeviceAddress, kind: 'results' | 'telemetry' | 'status', message: object): Promise<void> {
  assert.equal(
    await h.hub.ingest.submit(topicFor(address, kind), Buffer.from(JSON.stringify(message)), address.deviceId),
    'stored',
  );
}

async function signIn(page: Page, user: ProvisionedUser, stepOffset = 0): Promise<void> {
  await page.goto(h.httpUrl);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByLabel(/Authenticator code/).fill(await currentTotp(user.totpSecret ?? '', Date.now() + stepOffset * 30_000));
  await page.getByRole('button', { name: 'Sign in' }).click();
}

before(async () => {
  ensureDashboard();
  mkdirSync(SHOTS, { recursive: true });
  h = await startTestHub();
  clinician = await provisionUser(h.hub.auth, h.hub.state.audit, {
    username: 'dr.lind',
    displayName: 'Dr. Maria Lind',
    role: 'clinician',
    enrolTotp: true,
    actor: 'test',
  });
  admin = await provisionUser(h.hub.auth, h.hub.state.audit, {
    username: 'it.admin',
    displayName: 'IT Admin',
    role: 'admin',
    enrolTotp: true,
    actor: 'test',
  });
  const devices: DeviceAddress[] = [
    { clinicId: 'north-clinic', deviceId: 'north-mg1' },
    { clinicId: 'north-clinic', deviceId: 'north-mg2' },
    { clinicId: 'south-clinic', deviceId: 'south-mg1' },
  ];
  const now = Date.now();
  for (const [i, d] of devices.entries()) {
    await submit(d, 'status', statusMessage(d, i === 2 ? 'offline' : 'online'));
    for (let m = 0; m < 90; m += 3)
      await submit(d, 'telemetry', telemetrySample(d, new Date(now - (90 - m) * 60_000), m + i * 5));
  }
  const d = devices[0] as DeviceAddress;
  const visits: [string, number, number][] = [
    ['2023-03-14', 5.2, 0.46],
    ['2023-09-20', 6.0, 0.52],
    ['2024-03-18', 8.9, 0.71],
  ];
  for (const [date, mm, score] of visits) {
    await submit(
      d,
      'results',
      studyResult({
        ...d,
        patient: 'p-anna',
        studyDate: date,
        laterality: 'L',
        view: 'CC',
        score,
        findings: [{ x: 0.41, y: 0.33, diameterMm: mm, score }],
      }),
    );
    await submit(
      d,
      'results',
      studyResult({
        ...d,
        patient: 'p-anna',
        studyDate: date,
        laterality: 'L',
        view: 'MLO',
        score: score - 0.05,
        findings: [{ x: 0.44, y: 0.52, diameterMm: mm * 0.95, score: score - 0.05 }],
      }),
    );
    await submit(
      d,
      'results',
      studyResult({ ...d, patient: 'p-anna', studyDate: date, laterality: 'R', view: 'CC', score: 0.12, findings: [] }),
    );
  }
  await submit(
    d,
    'results',
    studyResult({
      ...d,
      patient: 'p-berit',
      studyDate: '2024-01-09',
      laterality: 'R',
      view: 'MLO',
      score: 0.45,
      findings: [{ x: 0.6, y: 0.4, diameterMm: 7, score: 0.45 }],
    }),
  );
  await h.hub.ingest.close();
  await h.hub.followup.settled();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  await h?.stop();
});

it('logs in with password + TOTP, opens a timeline, acknowledges an alert and finds it in the audit log', async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(h.httpUrl);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.screenshot({ path: join(SHOTS, '01-login.png') });
  // A wrong code is refused on the page.
  await page.getByLabel('Username').fill(clinician.username);
  await page.getByLabel('Password').fill(clinician.password);
  await page.getByLabel(/Authenticator code/).fill('000000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Wrong username, password or code.').waitFor();

  await signIn(page, clinician);
  await page.getByRole('heading', { name: 'Alerts' }).waitFor();
  const growth = page.locator('li.alert', { hasText: 'grew 6.0 → 8.9 mm' }).first();
  await growth.waitFor();
  await page.screenshot({ path: join(SHOTS, '02-alerts-inbox.png'), fullPage: true });

  await growth.getByRole('link', { name: /Patient/ }).click();
  await page.getByRole('heading', { name: /^Patient / }).waitFor();
  await page.getByRole('heading', { name: 'Finding size over time' }).waitFor();
  assert.ok((await page.locator('.chart canvas').count()) >= 2, 'one size chart per view with findings');
  await page.screenshot({ path: join(SHOTS, '03-patient-timeline.png'), fullPage: true });

  const alert = page.locator('li.alert', { hasText: 'grew 6.0 → 8.9 mm' }).first();
  await alert.getByRole('button', { name: 'Acknowledge' }).click();
  await page.locator('li.alert', { hasText: 'grew 6.0 → 8.9 mm' }).first().getByText('Acknowledged by dr.lind').waitFor();
  await page.screenshot({ path: join(SHOTS, '04-alert-acknowledged.png'), fullPage: true });

  // Keyboard users reach the navigation and the results list.
  await page.getByRole('link', { name: 'Results' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('table', { name: 'Results' }).waitFor();
  // The table is drawn first and filled when the page of results arrives.
  await page.locator('table[aria-label="Results"] tbody tr').nth(9).waitFor();
  await page.screenshot({ path: join(SHOTS, '05-results.png'), fullPage: true });

  // Clinicians have no fleet or audit pages.
  assert.equal(await page.getByRole('link', { name: 'Audit log' }).count(), 0);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();

  await signIn(page, admin);
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('table', { name: 'Audit log' }).waitFor();
  const row = page.locator('table[aria-label="Audit log"] tbody tr', { hasText: 'alert.acknowledge' }).first();
  await row.waitFor();
  assert.match((await row.textContent()) ?? '', /dr\.lind/);
  await page.getByRole('button', { name: 'Verify chain' }).click();
  await page.getByText(/Hash chain intact/).waitFor();
  await page.screenshot({ path: join(SHOTS, '06-audit-log.png'), fullPage: true });

  await page.getByRole('link', { name: 'Fleet' }).click();
  await page.getByRole('table', { name: 'Devices' }).waitFor();
  assert.equal(await page.locator('table[aria-label="Devices"] tbody tr').count(), 3);
  await page.getByText('2 / 3').waitFor();
  await page.screenshot({ path: join(SHOTS, '07-fleet.png'), fullPage: true });
  await page.getByRole('link', { name: 'north-mg1' }).click();
  await page.getByRole('heading', { name: 'north-mg1' }).waitFor();
  await page.locator('.chart canvas').first().waitFor();
  await page.screenshot({ path: join(SHOTS, '08-device.png'), fullPage: true });

  // The same timeline on a tablet.
  const tablet = await browser.newContext({ viewport: { width: 820, height: 1180 }, deviceScaleFactor: 1 });
  const tab = await tablet.newPage();
  await signIn(tab, clinician, 1);
  await tab.getByRole('heading', { name: 'Alerts' }).waitFor();
  await tab.goto(`${h.httpUrl}/#/patients/${patientKeyOf('p-anna')}`);
  await tab.getByRole('heading', { name: 'Finding size over time' }).waitFor();
  await tab.screenshot({ path: join(SHOTS, '09-timeline-tablet.png'), fullPage: true });
  await tablet.close();

  assert.deepEqual(errors, [], 'no script errors on any page');
  await context.close();
});

it('a clinician confirms and dismisses findings without an edge in reach, and the performance page draws its charts', async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Another clinician: the first test used up the current TOTP steps of the others.
  const reader = await provisionUser(h.hub.auth, h.hub.state.audit, {
    username: 'dr.berg',
    displayName: 'Dr. Jonas Berg',
    role: 'clinician',
    enrolTotp: true,
    actor: 'test',
  });
  await signIn(page, reader);
  await page.getByRole('heading', { name: 'Alerts' }).waitFor();
  await page.goto(`${h.httpUrl}/#/patients/${patientKeyOf('p-anna')}`);
  await page.getByRole('heading', { name: 'Findings and verdicts' }).waitFor();

  const latest = page.getByRole('table', { name: 'Findings of the study of 2024-03-18' });
  const cc = latest.locator('tbody tr', { hasText: 'L CC' });
  await cc.getByRole('button', { name: 'Confirm' }).click();
  await page
    .getByRole('table', { name: 'Findings of the study of 2024-03-18' })
    .locator('tbody tr', { hasText: 'L CC' })
    .getByText('Confirmed')
    .waitFor();
  const mlo = () =>
    page.getByRole('table', { name: 'Findings of the study of 2024-03-18' }).locator('tbody tr', { hasText: 'L MLO' });
  await mlo()
    .getByLabel(/Reason to dismiss/)
    .selectOption('artefact');
  await mlo().getByRole('button', { name: 'Dismiss' }).click();
  await mlo().getByText('Dismissed · artefact').waitFor();

  // No edge of this clinic answers here: the viewer says so (missed findings are added by clicking
  // on the image: edge-agent/test/clinic-images.test.ts), and verdicts still work.
  await page.locator('.viewer-status', { hasText: /Images unavailable/ }).waitFor();
  assert.equal(await page.getByLabel('x', { exact: true }).count(), 0, 'no typed-coordinates form');
  await page
    .locator('.study-verdicts', { hasText: 'Study 2024-03-18' })
    .getByLabel(/BI-RADS for the study/)
    .selectOption('4');
  await page.getByText('Assessment saved').waitFor();
  await page.screenshot({ path: join(SHOTS, '10-verdicts.png'), fullPage: true });

  // What the page showed is what the hub stored.
  const stored = await h.hub.state.verdicts.current({ patientKey: patientKeyOf('p-anna') });
  assert.deepEqual(stored.map((v) => v.kind).sort(), ['assessment', 'finding', 'finding']);
  assert.ok(stored.every((v) => v.author === 'dr.berg' && v.source === 'dashboard'));

  await page.getByRole('link', { name: 'Model performance' }).click();
  await page.getByRole('heading', { name: 'Model performance' }).waitFor();
  await page.getByRole('table', { name: 'Per model version' }).waitFor();
  const row = page.getByRole('table', { name: 'Per model version' }).locator('tbody tr').first();
  assert.match((await row.textContent()) ?? '', /50\.0 %/, 'PPV: one confirmed, one dismissed');
  await page.locator('.perf-grid .chart canvas').nth(4).waitFor();
  assert.equal(await page.locator('.perf-grid .chart canvas').count(), 5, 'four figures over time and the calibration curve');
  await page.screenshot({ path: join(SHOTS, '11-performance.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});
