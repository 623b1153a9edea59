// A device that reports an NVIDIA GPU but infers on the CPU raises one ops alert (per device and model
// version) with the reason the device gives; a device on its GPU, or one without a GPU, raises none.
// Against a real SQLite state store fed through the ingest path devices use.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '@vigil/shared';
import { statusMessage, telemetrySample } from '../../scripts/harness/fleet-messages.js';
import { ingestBatch } from '../../scripts/harness/ingest-batch.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { AcceleratorWatch, acceleratorAlerts } from '../src/ops/accelerator-watch.js';
import { openStateStore } from '../src/storage/open-state.js';

const ON_CPU = { clinicId: 'clinic-a', deviceId: 'gpu-on-cpu' } as const;
const ON_GPU = { clinicId: 'clinic-a', deviceId: 'gpu-on-cuda' } as const;
const NO_GPU = { clinicId: 'clinic-b', deviceId: 'no-gpu' } as const;

test('an NVIDIA GPU left unused raises one ops alert with the device’s reason; the others none', async () => {
  const dir = makeTempDir('accelerator-watch');
  const store = openStateStore({ driver: 'sqlite', path: join(dir.path, 'state.sqlite') });
  await store.open();
  try {
    const at = new Date();
    const cpu = telemetrySample(ON_CPU, at, 1);
    cpu.pipeline.inferenceProvider = 'cpu';
    cpu.pipeline.inferenceCpuReason = "onnxruntime-node's CUDA provider is not installed";
    const cuda = telemetrySample(ON_GPU, at, 1);
    const plain = telemetrySample(NO_GPU, at, 1);
    plain.gpus = [];
    plain.pipeline.inferenceProvider = 'cpu';
    for (const d of [ON_CPU, ON_GPU, NO_GPU]) await store.addDevice({ ...d, passwordHash: 'h', tags: [] });
    await store.commitIngest(
      ingestBatch({
        telemetry: [cpu, cuda, plain],
        statuses: [ON_CPU, ON_GPU, NO_GPU].map((d) => statusMessage(d, 'online', at)),
      }),
    );
    const alerts = acceleratorAlerts(await store.listDeviceStates());
    assert.deepEqual(
      alerts.map((a) => [a.kind, a.clinicId, a.details.deviceId]),
      [['gpu-unused', 'clinic-a', 'gpu-on-cpu']],
    );
    assert.match(
      alerts[0]?.summary ?? '',
      /NVIDIA A10 but runs .* on the CPU: onnxruntime-node's CUDA provider is not installed/,
    );

    const watch = new AcceleratorWatch({
      devices: store,
      alerts: store.opsAlerts,
      logger: createLogger('test', { level: 'silent' }),
      intervalMs: 60_000,
      leader: () => true,
    });
    await watch.check();
    await watch.check(); // the same condition again: still one alert
    const stored = await store.opsAlerts.list({ limit: 10 });
    assert.deepEqual(
      stored.map((a) => a.kind),
      ['gpu-unused'],
    );
  } finally {
    await store.close();
    dir.remove();
  }
});
