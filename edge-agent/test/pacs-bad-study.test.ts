// Second outside review, items 1 and 6 (edge): a study whose names are longer than their VR allows,
// and one whose objects cannot be built at all, sent ahead of a normal study to a real edge (its own
// process, dcmtk's storescu in, dcmtk's storescp as the PACS) with encryption at rest on. The long
// names are truncated to fit (the SR arrives), the unbuildable study is set aside with a code after
// the configured attempts while the studies behind it are delivered, no name or ID reaches a log line,
// and no file under the data directory holds a name, ID, accession number or original UID in clear.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../scripts/harness/free-port.js';
import { BUNDLED_MODEL } from '../../scripts/harness/model-packages.js';
import { StoreScp } from '../../scripts/harness/pacs-servers.js';
import { readReport } from '../../scripts/harness/sr-reader.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { generatePhantoms } from '../../scripts/phantoms/generate-phantoms.js';
import { AtRestCipher } from '../src/at-rest/at-rest-cipher.js';
import { writeNewKeyFile } from '../src/at-rest/at-rest-keys.js';
import { defaultReidKeyFile } from '../src/reid/identity-index.js';
import { PacsStore } from '../src/reporting/pacs-store.js';

const run = promisify(execFile);
const EDGE_BIN = join(import.meta.dirname, '../bin/vigil-edge.mjs');

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  return readdirSync(path, { recursive: true })
    .map((f) => join(path, String(f)))
    .filter((f) => statSync(f).isFile());
}

async function attribute(file: string, tag: string): Promise<string> {
  const { stdout } = await run('dcmdump', ['+P', tag, '+L', '-q', file]);
  return /\[(.*)\]/.exec(stdout)?.[1] ?? '';
}

test('a study with over-long names and one that cannot be built do not hold up the PACS queue; nothing identifying is logged or kept in clear', async () => {
  const dir = makeTempDir('pacs-bad-study');
  const storescp = new StoreScp();
  let edge: ChildProcess | undefined;
  let log = '';
  try {
    await storescp.start();
    const truth = await generatePhantoms({
      out: join(dir.path, 'phantoms'),
      patients: 3,
      visits: 1,
      seed: 9511,
      rows: 512,
      columns: 416,
    });
    const [wedge, long, normal] = truth.patients.map((p) =>
      (p.visits[0]?.images ?? []).filter((i) => i.view === 'CC').map((i) => join(dir.path, 'phantoms', i.file)),
    );
    assert.ok(wedge?.length === 2 && long?.length === 2 && normal?.length === 2);
    // The first study's UID is not a UID (76 characters): its SR can never be encoded.
    const badUid = `1.2.3.${'1'.repeat(70)}`;
    const longName = `${'Verylongfamilyname'.repeat(4)}^Anna-Maria`;
    const longPhysician = `${'Referring'.repeat(8)}^Doctor`;
    const edited = join(dir.path, 'edited');
    mkdirSync(edited);
    const copies: string[][] = [];
    for (const [k, files] of [wedge, long].entries()) {
      copies.push(
        (files as string[]).map((f, n) => {
          const to = join(edited, `${k}-${n}.dcm`);
          copyFileSync(f, to);
          return to;
        }),
      );
    }
    for (const f of copies[0] as string[]) await run('dcmodify', ['-nb', '-m', `(0020,000d)=${badUid}`, f]);
    // One more image whose View Position is free text: quarantined with its code, never a result.
    const freeText = join(edited, 'free-text-view.dcm');
    copyFileSync(
      join(dir.path, 'phantoms', truth.patients[2]?.visits[0]?.images.find((i) => i.view === 'MLO')?.file as string),
      freeText,
    );
    await run('dcmodify', ['-nb', '-m', '(0018,5101)=RIGHT CC VIEW', freeText]);
    for (const f of copies[1] as string[])
      await run('dcmodify', ['-nb', '-m', `(0010,0010)=${longName}`, '-m', `(0008,0090)=${longPhysician}`, f]);
    const identities = await Promise.all(
      [...(copies[0] as string[]), ...(copies[1] as string[]), ...normal].map(async (f) => ({
        name: await attribute(f, '0010,0010'),
        id: await attribute(f, '0010,0020'),
        accession: await attribute(f, '0008,0050'),
        study: await attribute(f, '0020,000d'),
      })),
    );
    assert.equal(identities[2]?.name, longName, 'the edited file carries the 96-character name');

    const data = join(dir.path, 'edge');
    const keyFile = join(dir.path, 'keys', 'at-rest.key');
    writeNewKeyFile(keyFile);
    const scpPort = await freePort();
    edge = spawn(process.execPath, [EDGE_BIN, 'serve'], {
      env: {
        ...process.env,
        VIGIL_CLINIC_ID: 'clinic-w',
        VIGIL_DEVICE_ID: 'edge-w',
        VIGIL_DATA_DIR: data,
        // No hub: the PACS path is the clinic's own and works without one.
        VIGIL_MQTT__URL: `mqtt://127.0.0.1:${await freePort()}`,
        VIGIL_MQTT__PASSWORD: 'unused-password-123',
        VIGIL_MODEL__DIR: BUNDLED_MODEL,
        VIGIL_MODEL__THREADS: '1',
        VIGIL_DEID__SECRET: 'pacs-bad-study-pseudonym-secret-0123',
        VIGIL_DICOM__ENABLED: 'true',
        VIGIL_DICOM__PORT: String(scpPort),
        VIGIL_DICOM__ALLOWED_CALLING_AE_TITLES: JSON.stringify(['STORESCU']),
        VIGIL_STORAGE__ENCRYPTION__ENABLED: 'true',
        VIGIL_STORAGE__ENCRYPTION__KEY_FILE: keyFile,
        VIGIL_PACS__ENABLED: 'true',
        VIGIL_PACS__STUDY_SETTLE_S: '0.5',
        VIGIL_PACS__RETRY_MIN_MS: '100',
        VIGIL_PACS__RETRY_MAX_MS: '300',
        VIGIL_PACS__MAX_BUILD_ATTEMPTS: '3',
        VIGIL_PACS__DESTINATIONS: JSON.stringify([
          { name: 'storescp', kind: 'dimse', port: storescp.port, calledAeTitle: storescp.aeTitle, timeoutMs: 10_000 },
        ]),
        VIGIL_TELEMETRY__INTERVAL_S: '3600',
        VIGIL_LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    edge.stdout?.on('data', (b: Buffer) => {
      log += b.toString();
    });
    edge.stderr?.on('data', (b: Buffer) => {
      log += b.toString();
    });
    const storescu = (files: string[]) =>
      run('storescu', ['-aec', 'VIGIL', '-aet', 'STORESCU', '127.0.0.1', String(scpPort), ...files]);
    await waitFor(
      'the edge SCP up',
      () =>
        run('echoscu', ['-aec', 'VIGIL', '-aet', 'STORESCU', '127.0.0.1', String(scpPort)]).then(
          () => true,
          () => false,
        ),
      120_000,
      300,
    );
    // The unbuildable study first: it is the oldest due, the one a wedged queue would retry forever.
    await storescu(copies[0] as string[]);
    await storescu(copies[1] as string[]);
    await storescu(normal as string[]);
    await storescu([freeText]);

    const received = async () => Promise.all(storescp.files().map((f) => readReport(f).catch(() => undefined)));
    await waitFor(
      'the SRs of the two good studies at the PACS',
      async () => {
        const studies = new Set((await received()).map((r) => r?.studyInstanceUid));
        return studies.has(identities[2]?.study) && studies.has(identities[4]?.study);
      },
      180_000,
      300,
    );
    const storeAt = () =>
      new PacsStore(join(data, 'pacs.sqlite'), AtRestCipher.fromTransferable([readFileSync(keyFile, 'utf8').trim()]));
    // Set aside, and everything that was built (the SRs and presentation states of the two good
    // studies) delivered: waited for, since the presentation states may still be on their way.
    await waitFor('the bad study set aside and every built object delivered', () => {
      const store = storeAt();
      try {
        const all = store.all();
        return store.setAside().length === 1 && all.length >= 2 && all.every((d) => d.state === 'delivered');
      } finally {
        store.close();
      }
    });
    const store = storeAt();
    const [aside] = store.setAside();
    const deliveries = store.all();
    store.close();
    assert.equal(aside?.code, 'VIGIL_PACS_BUILD_FAILED');
    assert.equal(aside?.attempts, 3, 'set aside after the configured attempts, not retried every round');
    assert.match(aside?.message ?? '', /VIGIL_DICOM_VALUE_INVALID: StudyInstanceUID is not a valid UID/);
    assert.ok(
      deliveries.every((d) => d.state === 'delivered'),
      'everything built was delivered',
    );
    await waitFor('the free-text view quarantined', () =>
      filesUnder(join(data, 'quarantine')).some(
        (f) => f.endsWith('.json') && /VIGIL_DICOM_VIEW_INVALID/.test(readFileSync(f, 'utf8')),
      ),
    );

    // The long name was truncated to fit PN (64 per component group), not refused.
    const reports = (await received()).filter((r) => r !== undefined);
    const longReport = reports.find((r) => r.studyInstanceUid === identities[2]?.study);
    assert.equal(longReport?.patientName, longName.slice(0, 64));
    // dciodvfy (dicom3tools) finds no VR length error in it.
    const file = storescp.files().find((f) => readFileSync(f).includes(Buffer.from(identities[2]?.study ?? '')));
    const check = await run('dciodvfy', [file as string]).catch((e: { stdout: string; stderr: string }) => e);
    assert.doesNotMatch(`${check.stdout}${check.stderr}`, /Value invalid for this VR|exceeds maximum length/i);

    // Logs: the set-aside is logged with its code and the study's pseudonym, a few times, never the patient.
    const setAsideLines = log
      .split('\n')
      .filter((l) => l.includes('VIGIL_PACS_BUILD_FAILED') || l.includes('could not be built'));
    assert.ok(setAsideLines.length >= 1 && setAsideLines.length <= 3, `${setAsideLines.length} build failure lines`);
    assert.match(log, /PatientName truncated \(PN\)/, 'the truncation is noted by attribute');
    for (const who of identities) {
      for (const value of [who.name, who.name.slice(0, 20), who.id, who.accession]) {
        assert.ok(value.length >= 6 && !log.includes(value), `no log line holds ${value.slice(0, 3)}…`);
      }
    }

    // Stop the edge and look at every file it keeps.
    edge.kill('SIGTERM');
    await new Promise((resolve) => edge?.once('exit', resolve));
    edge = undefined;
    const kept = filesUnder(data);
    assert.ok(kept.some((f) => f.endsWith('pacs.sqlite')));
    for (const f of kept) {
      const bytes = readFileSync(f);
      for (const who of identities) {
        for (const value of [who.name.split('^')[0] as string, who.id, who.accession, who.study]) {
          assert.ok(!bytes.includes(Buffer.from(value)), `${f} holds no ${value.slice(0, 3)}… in clear`);
        }
      }
    }
  } finally {
    edge?.kill('SIGKILL');
    await storescp.dispose();
    dir.remove();
  }
});

test("the identity index's key lives outside the data directory by default, and an old key there is moved out", () => {
  const dir = makeTempDir('reid-key');
  try {
    const data = join(dir.path, 'edge');
    mkdirSync(data);
    const path = defaultReidKeyFile(data);
    assert.ok(!path.startsWith(`${data}/`), path);
    assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
    const other = join(dir.path, 'edge2');
    mkdirSync(other);
    writeNewKeyFile(join(other, 'reid.key'));
    const before = readFileSync(join(other, 'reid.key'));
    const moved = defaultReidKeyFile(other);
    assert.deepEqual(readFileSync(moved), before, 'the same key, moved');
    assert.ok(!existsSync(join(other, 'reid.key')));
  } finally {
    dir.remove();
  }
});
