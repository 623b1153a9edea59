// The edge agent starts its parts in order and undoes a failed start: a DICOM port already taken
// stops the start with an error, and what had started before it (the re-identification listener, the
// decode workers, the stores) is stopped again — its port is free, the data directory can be opened by
// a second agent, and that one starts and stops cleanly. No broker is needed to show it.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { reidSigningKey } from '@vigil/cloud-hub';
import { clinicEndpointEnv } from '../../scripts/harness/clinic-endpoint.js';
import { freePort } from '../../scripts/harness/free-port.js';
import { edgeConfig } from '../../scripts/harness/hub-fixture.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { EdgeAgent } from '../src/edge-agent.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

test('a failed start stops what had started; the same data directory then starts and stops cleanly', async () => {
  const dir = makeTempDir('edge-lifecycle');
  const taken = await listen(await freePort());
  try {
    const reidPort = await freePort();
    const dicomPort = (taken.address() as { port: number }).port;
    const { publicKeyFile } = reidSigningKey(join(dir.path, 'hub'), '');
    const config = (port: number) =>
      edgeConfig(
        {
          clinicId: 'clinic-l',
          deviceId: 'edge-l',
          password: 'not-used-no-broker',
          mqttUrl: 'mqtt://127.0.0.1:1',
          dataDir: join(dir.path, 'edge'),
        },
        {
          VIGIL_DEID__SECRET: 'lifecycle-test-secret',
          VIGIL_DICOM__ENABLED: 'true',
          VIGIL_DICOM__HOST: '127.0.0.1',
          VIGIL_DICOM__PORT: String(port),
          ...clinicEndpointEnv({ port: reidPort, hubPublicKeyFile: publicKeyFile }),
        },
      );
    const first = new EdgeAgent(config(dicomPort));
    await assert.rejects(first.start(), /EADDRINUSE|address already in use/i);
    // The re-identification listener had started before the SCP failed: it is closed again.
    const probe = await listen(reidPort);
    probe.close();
    // A second agent on the same data directory (its stores were closed) starts and stops.
    const second = new EdgeAgent(config(await freePort()));
    await second.start();
    assert.ok(second.intake?.scp, 'the DICOM SCP runs');
    await second.stop();
    const again = await listen(reidPort);
    again.close();
    await first.stop(); // stopping a failed agent again is harmless
  } finally {
    taken.close();
    dir.remove();
  }
});
