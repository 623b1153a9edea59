// Issue 14: results back to the clinic. A phantom study sent to the edge by dcmtk's storescu gives one
// TID 1500 SR per study, delivered by C-STORE to dcmtk's storescp and by STOW-RS to Debian's Orthanc
// (DICOMweb plugin). dsrdump parses it, dicom3tools' dciodvfy finds no error in the IOD, pixelmed's
// DicomSRValidator none in the template; it references the original instances, carries the real
// patient (it goes to the clinic's PACS only), and its findings are those of the results the hub got —
// which carry no identity.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { EdgeAgent, loadEdgeConfig } from '@vigil/edge-agent';
import { freePort } from '../../scripts/harness/free-port.js';
import { edgeEnv, startTestHub } from '../../scripts/harness/hub-fixture.js';
import { BUNDLED_MODEL } from '../../scripts/harness/model-packages.js';
import { OrthancServer, StoreScp } from '../../scripts/harness/pacs-servers.js';
import { readReport } from '../../scripts/harness/sr-reader.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { generatePhantoms } from '../../scripts/phantoms/generate-phantoms.js';

const run = promisify(execFile);

test('a study sent by storescu comes back as a valid TID 1500 SR at storescp (C-STORE) and Orthanc (STOW-RS)', async () => {
  const dir = makeTempDir('pacs-results');
  const hub = await startTestHub();
  const storescp = new StoreScp();
  const orthanc = new OrthancServer();
  let agent: EdgeAgent | undefined;
  try {
    await Promise.all([storescp.start(), orthanc.start()]);
    // A seed whose study has lesions the model reports (so the report has findings to carry).
    const truth = await generatePhantoms({
      out: join(dir.path, 'phantoms'),
      patients: 1,
      visits: 1,
      seed: 9501,
      rows: 1024,
      columns: 832,
    });
    const patient = truth.patients[0];
    const visit = patient?.visits[0];
    assert.ok(patient && visit);
    const device = { clinicId: 'clinic-a', deviceId: 'mg-1' };
    const password = await hub.addDevice(device.clinicId, device.deviceId);
    const scpPort = await freePort();
    agent = new EdgeAgent(
      loadEdgeConfig(undefined, {
        ...edgeEnv({ ...device, password, mqttUrl: hub.mqttUrl, dataDir: join(dir.path, 'edge') }),
        VIGIL_MODEL__DIR: BUNDLED_MODEL,
        VIGIL_DEID__SECRET: 'pacs-test-pseudonym-secret-0123456789',
        VIGIL_DICOM__ENABLED: 'true',
        VIGIL_DICOM__PORT: String(scpPort),
        VIGIL_DICOM__ALLOWED_CALLING_AE_TITLES: JSON.stringify(['STORESCU']),
        VIGIL_PACS__ENABLED: 'true',
        VIGIL_PACS__STUDY_SETTLE_S: '1',
        VIGIL_PACS__RETRY_MIN_MS: '100',
        VIGIL_PACS__DESTINATIONS: JSON.stringify([
          { name: 'storescp', kind: 'dimse', port: storescp.port, calledAeTitle: storescp.aeTitle },
          { name: 'orthanc', kind: 'stow', url: `${orthanc.url}/dicom-web` },
        ]),
      }),
    );
    await agent.start();
    const files = visit.images.map((i) => join(dir.path, 'phantoms', i.file));
    await run('storescu', ['-aec', 'VIGIL', '-aet', 'STORESCU', '127.0.0.1', String(scpPort), ...files]);

    await waitFor('four results at the hub', async () => (await hub.hub.state.countResults()) === 4, 120_000);
    await waitFor('the SR and the presentation state at storescp', () => storescp.files().length === 2, 120_000);
    await waitFor('both in Orthanc', async () => (await orthanc.instances()).length === 2, 60_000);

    // One SR per study, identical at both destinations.
    const objects = await Promise.all(storescp.files().map(async (path) => ({ path, read: await readReport(path) })));
    const received = objects.find((o) => o.read.sopClassUid === '1.2.840.10008.5.1.4.1.1.88.34')?.path;
    const presentation = objects.find((o) => o.read.sopClassUid === '1.2.840.10008.5.1.4.1.1.11.1')?.path;
    assert.ok(received && presentation, 'an SR and a grayscale softcopy presentation state');
    const report = await readReport(received);
    const inOrthanc = (await orthanc.instances()).filter((i) => i.modality === 'SR');
    assert.deepEqual(
      inOrthanc.map((i) => i.sopInstanceUid),
      [report.sopInstanceUid],
    );
    assert.equal(report.sopClassUid, '1.2.840.10008.5.1.4.1.1.88.34', 'Comprehensive 3D SR');

    // The real patient and the original instances: it is the clinic's own object.
    assert.equal(report.patientId, patient.patientId);
    assert.equal(report.studyInstanceUid, visit.studyInstanceUid);
    assert.deepEqual([...report.references].sort(), visit.images.map((i) => i.sopInstanceUid).sort());

    // Its findings are the results' findings, image by image.
    const results = (await hub.hub.state.queryResults({ limit: 10 })).items;
    const expected = results.flatMap((r) => r.findings.map((f) => Math.round(f.diameterMm * 100) / 100)).sort((a, b) => a - b);
    assert.ok(expected.length > 0, 'the model reported findings on this study');
    assert.deepEqual(
      report.findings.map((f) => Math.round(f.diameterMm * 100) / 100).sort((a, b) => a - b),
      expected,
    );
    assert.ok(
      report.findings.every((f) => visit.images.some((i) => i.sopInstanceUid === f.image)),
      'each region is on an original image',
    );
    assert.ok(
      report.texts.some((t) => /demonstration only/i.test(t) && /not a medical device/.test(t)),
      "the model's intended use is stated",
    );

    // The hub got pseudonyms only: no name, patient id or original UID in any stored result.
    const stored = JSON.stringify(results);
    for (const phi of [patient.patientId, visit.studyInstanceUid, ...visit.images.map((i) => i.sopInstanceUid)]) {
      assert.ok(!stored.includes(phi), `the hub's results do not contain ${phi}`);
    }
    const name = report.patientName;
    assert.ok(name.length > 2 && !stored.includes(name.split('^')[0] as string), "the patient's name never reaches the hub");

    // The standard's own checkers.
    const dump = await run('dsrdump', [received]);
    assert.match(dump.stdout, /Imaging Measurement Report/);
    for (const object of [received, presentation]) {
      const iod = await run('dciodvfy', [object]).catch((e: { stdout: string; stderr: string }) => e);
      assert.doesNotMatch(`${iod.stdout}${iod.stderr}`, /^Error/m, `dciodvfy: ${iod.stderr}`);
    }
    const template = await run(
      'java',
      [
        '-Djdk.xml.xpathExprOpLimit=0',
        '-Djdk.xml.xpathExprGrpLimit=0',
        '-Djdk.xml.xpathTotalOpLimit=0',
        '-cp',
        '/usr/share/java/pixelmed.jar',
        'com.pixelmed.validate.DicomSRValidator',
        received,
      ],
      { timeout: 240_000 },
    );
    const validation = `${template.stdout}${template.stderr}`;
    assert.match(validation, /Found Root Template TID_1500/);
    assert.doesNotMatch(validation, /^Error/m, validation);

    // STOW-RS stored the same bytes' content: Orthanc's copy reads back the same report.
    const fromOrthanc = join(dir.path, 'orthanc-sr.dcm');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(fromOrthanc, await orthanc.file(inOrthanc[0]?.id ?? ''));
    assert.deepEqual(await readReport(fromOrthanc), report);
    assert.ok(readFileSync(received).byteLength > 1000);
  } finally {
    await agent?.stop();
    await Promise.all([storescp.dispose(), orthanc.dispose()]);
    await hub.stop();
    dir.remove();
  }
});
