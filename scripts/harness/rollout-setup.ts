import { join } from 'node:path';
import { newMessageId, STATUS_SCHEMA } from '@vigil/shared';
import type { TestHub } from './hub-fixture.js';
import { ingestBatch } from './ingest-batch.js';
import { BUNDLED_MODEL, BUNDLED_VERSION, modelVersion, packAndSign, phantomImages } from './model-packages.js';

/**
 * What a rollout test starts from: the bundled model and a candidate `version` published (signed with
 * `privateKeyPem`), and `deviceIds` at `clinic-a` registered and reporting the bundled model online.
 */
export async function rolloutReadyHub(
  h: TestHub,
  dir: string,
  privateKeyPem: string,
  o: { seed: number; version: string; deviceIds: string[]; moreVersions?: string[] },
): Promise<void> {
  const [reference] = await phantomImages(join(dir, 'reference'), 1, o.seed);
  for (const [version, modelDir] of [
    [BUNDLED_VERSION, BUNDLED_MODEL],
    ...[o.version, ...(o.moreVersions ?? [])].map((v) => [v, modelVersion(BUNDLED_MODEL, join(dir, `m-${v}`), v)] as const),
  ] as const) {
    const pkg = await packAndSign(modelDir, reference as string, join(dir, `${version}.vpkg`), privateKeyPem);
    await h.hub.models.publish(pkg.path, pkg.signature, 'test');
  }
  for (const deviceId of o.deviceIds) await h.hub.registry.add({ clinicId: 'clinic-a', deviceId });
  await h.hub.state.commitIngest(
    ingestBatch({
      statuses: o.deviceIds.map((deviceId) => ({
        schema: STATUS_SCHEMA,
        messageId: newMessageId(),
        clinicId: 'clinic-a',
        deviceId,
        state: 'online' as const,
        at: new Date().toISOString(),
        agentVersion: 'test',
        model: { name: 'vigil-demo', version: BUNDLED_VERSION },
      })),
    }),
  );
}
