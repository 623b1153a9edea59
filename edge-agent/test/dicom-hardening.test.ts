// Hardening of the C-STORE SCP (review findings 4 and 5): partial files of cut-off transfers, an
// object size limit, a disk-space floor, the listen address, the calling-AE allow-list and DICOM TLS.
// dcmtk's storescu/echoscu are the modality; a throttling TCP relay lets the test kill a sender mid-object.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../scripts/harness/free-port.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { makeClientCert, makeTlsMaterial } from '../../scripts/harness/tls-material.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { loadEdgeConfig } from '../src/config.js';
import { EdgeAgent } from '../src/edge-agent.js';
import type { PreparedImage } from '../src/pipeline/prepare-image.js';

const run = promisify(execFile);
const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
const PY = join(import.meta.dirname, '../../scripts/python');
const dir = makeTempDir('dicom-hardening');
let big: string;

async function startAgent(name: string, env: Record<string, string>, images: PreparedImage[] = []): Promise<EdgeAgent> {
  const agent = new EdgeAgent(
    loadEdgeConfig(undefined, {
      VIGIL_CLINIC_ID: 'clinic-a',
      VIGIL_DEVICE_ID: name,
      VIGIL_DATA_DIR: join(dir.path, name),
      VIGIL_MQTT__URL: `mqtt://127.0.0.1:${await freePort()}`,
      VIGIL_DICOM__ENABLED: 'true',
      VIGIL_DICOM__PORT: String(await freePort()),
      VIGIL_DEID__SECRET: 'dicom-hardening-secret-01',
      VIGIL_TELEMETRY__INTERVAL_S: '3600',
      ...env,
    }),
    { imageSinks: [{ accept: async (image) => void images.push(image) }] },
  );
  await agent.start();
  return agent;
}

function scpPort(agent: EdgeAgent): number {
  return agent.intake?.scp?.port as number;
}

/** Open file descriptors of this process that point into `dir`. */
function openFilesUnder(path: string): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => target.startsWith(path));
}

/** A TCP relay to `port` that forwards the sender's bytes at about `bytesPerSecond`. */
async function throttledRelay(port: number, bytesPerSecond: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = createConnection(port, '127.0.0.1');
    sockets.add(inbound);
    sockets.add(outbound);
    inbound.on('data', (chunk: Buffer) => {
      inbound.pause();
      outbound.write(chunk);
      setTimeout(() => inbound.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
    outbound.pipe(inbound);
    // A killed sender: the SCP sees its connection reset, as with a real network failure.
    inbound.on('close', () => outbound.resetAndDestroy());
    outbound.on('close', () => inbound.destroy());
    inbound.on('error', () => undefined);
    outbound.on('error', () => undefined);
  });
  const relayPort = await freePort();
  await new Promise<void>((resolve) => server.listen(relayPort, '127.0.0.1', resolve));
  return {
    port: relayPort,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

before(() => {
  big = join(dir.path, 'big.dcm');
  // 4096 x 3328 x 16 bit: 27 MB, the size of a full-field mammogram.
  execFileSync('/usr/bin/python3', [join(PY, 'make_test_image.py'), big, '4096', '3328', '14', '0', 'MG']);
});

after(() => dir.remove());

test('senders killed mid-C-STORE leave no partial file and no open descriptor', async () => {
  const agent = await startAgent('edge-abort', { VIGIL_DICOM__ALLOW_ANY_CALLING_AE: 'true' });
  const incoming = join(dir.path, 'edge-abort', 'spool', 'incoming');
  const relay = await throttledRelay(scpPort(agent), 8 * 1024 * 1024);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      const sender = spawn('storescu', ['-aec', 'VIGIL', '127.0.0.1', String(relay.port), big], { stdio: 'ignore' });
      // Mid-object: the partial file exists and has grown past 2 MB.
      await waitFor(
        'a partial file growing',
        () => readdirSync(incoming).some((n) => (statSync(join(incoming, n), { throwIfNoEntry: false })?.size ?? 0) > 2e6),
        60_000,
        10,
      );
      sender.kill('SIGKILL');
      await new Promise((r) => sender.once('exit', r));
      await waitFor(
        'partial file removed and closed',
        () => readdirSync(incoming).length === 0 && openFilesUnder(incoming).length === 0,
        30_000,
      );
    }
    assert.equal(agent.counters.received, 0, 'nothing half-received was taken as an image');
  } finally {
    relay.close();
    await agent.stop();
  }
});

test('an object over dicom.maxObjectBytes is refused with 0xA700 and nothing is kept; partials from a crash are swept at start', async () => {
  const name = 'edge-limits';
  const stale = join(dir.path, name, 'spool', 'incoming');
  mkdirSync(stale, { recursive: true });
  writeFileSync(join(stale, 'left-by-a-crash.part'), Buffer.alloc(1024 * 1024));
  const images: PreparedImage[] = [];
  const agent = await startAgent(
    name,
    { VIGIL_DICOM__ALLOW_ANY_CALLING_AE: 'true', VIGIL_DICOM__MAX_OBJECT_BYTES: String(4 * 1024 * 1024) },
    images,
  );
  try {
    assert.deepEqual(readdirSync(stale), [], 'the stale partial was removed at start');
    const refused = await run('storescu', ['-v', '-aec', 'VIGIL', '127.0.0.1', String(scpPort(agent)), big]).then(
      (r) => r.stdout + r.stderr,
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    assert.match(refused, /a700|Out of Resources|Refused/i);
    assert.deepEqual(readdirSync(stale), [], 'no partial file kept');
    assert.equal(readdirSync(join(dir.path, name, 'spool', 'ready')).length, 0);
    await run('storescu', ['-aec', 'VIGIL', '127.0.0.1', String(scpPort(agent)), join(PYDICOM, 'CT_small.dcm')]);
    await waitFor('a small object is still taken', () => images.length === 1, 30_000);
  } finally {
    await agent.stop();
  }
});

test('below the intake disk floor C-STOREs get 0xA700 and watched files stay where they are', async () => {
  const inbox = join(dir.path, 'floor-inbox');
  const agent = await startAgent('edge-floor', {
    VIGIL_DICOM__ALLOW_ANY_CALLING_AE: 'true',
    VIGIL_INTAKE__MIN_FREE_BYTES: String(2 ** 52),
    VIGIL_WATCH_FOLDER__PATH: inbox,
    VIGIL_WATCH_FOLDER__INTERVAL_MS: '50',
    VIGIL_WATCH_FOLDER__STABLE_MS: '0',
  });
  try {
    const refused = await run('storescu', [
      '-v',
      '-aec',
      'VIGIL',
      '127.0.0.1',
      String(scpPort(agent)),
      join(PYDICOM, 'CT_small.dcm'),
    ]).then(
      (r) => r.stdout + r.stderr,
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    assert.match(refused, /a700|Out of Resources|Refused/i);
    writeFileSync(join(inbox, 'waiting.dcm'), 'x');
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(existsSync(join(inbox, 'waiting.dcm')), 'the watched file is left in place');
    assert.equal(agent.counters.received + agent.counters.quarantined, 0);
  } finally {
    await agent.stop();
  }
});

test('the SCP listens only on dicom.host, and refuses calling AEs not on the allow-list by default', async () => {
  const agent = await startAgent('edge-bind', {});
  try {
    assert.equal(agent.intake?.scp?.host, '127.0.0.1');
    const port = scpPort(agent);
    const reached = await new Promise<boolean>((resolve) => {
      const socket = createConnection(port, '127.0.0.2');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    assert.equal(reached, false, 'another local address is not served');
    await assert.rejects(
      run('storescu', ['-aec', 'VIGIL', '-aet', 'ANY_MODALITY', '127.0.0.1', String(port), join(PYDICOM, 'CT_small.dcm')]),
      /Calling AE Title Not Recognized/,
      'an empty allow-list allows nobody unless allowAnyCallingAe is set',
    );
  } finally {
    await agent.stop();
  }
});

test('DICOM TLS — storescu over TLS with a client certificate is stored; plain TCP and certificate-less clients are refused', async () => {
  const tls = makeTlsMaterial(dir.path, 'dicom');
  const client = makeClientCert(dir.path, tls, 'MAMMO1');
  const images: PreparedImage[] = [];
  const agent = await startAgent(
    'edge-tls',
    {
      VIGIL_DICOM__ALLOWED_CALLING_AE_TITLES: JSON.stringify(['MAMMO1']),
      VIGIL_DICOM__TLS__ENABLED: 'true',
      VIGIL_DICOM__TLS__KEY_FILE: tls.serverKey,
      VIGIL_DICOM__TLS__CERT_FILE: tls.serverCert,
      VIGIL_DICOM__TLS__CA_FILE: tls.caCert,
    },
    images,
  );
  try {
    const port = String(scpPort(agent));
    const file = join(PYDICOM, 'CT_small.dcm');
    await run('storescu', [
      '+tls',
      client.key,
      client.cert,
      '+cf',
      tls.caCert,
      '-aet',
      'MAMMO1',
      '-aec',
      'VIGIL',
      '127.0.0.1',
      port,
      file,
    ]);
    await waitFor('the TLS transfer is processed', () => images.length === 1, 30_000);
    await assert.rejects(run('storescu', ['-aet', 'MAMMO1', '-aec', 'VIGIL', '127.0.0.1', port, file]), 'plain TCP is refused');
    await assert.rejects(
      run('storescu', ['+tla', '+cf', tls.caCert, '-aet', 'MAMMO1', '-aec', 'VIGIL', '127.0.0.1', port, file]),
      'a client without a certificate is refused',
    );
    assert.equal(images.length, 1);
  } finally {
    await agent.stop();
  }
});
