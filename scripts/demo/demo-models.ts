import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hub } from '@vigil/cloud-hub';
import { generateSigningKey } from '@vigil/shared';
import { modelVersion, packAndSign, phantomImages } from '../harness/model-packages.js';

/**
 * DEMO FIXTURE: a signing key made for this run, the bundled model published as a package (so the
 * fleet can always roll back to it) and a 0.2.1 package of the same weights, ready to roll out from
 * the dashboard's Rollouts page or `vigil-hub rollout start`.
 */
export function makeDemoSigningKey(demoDir: string): ReturnType<typeof generateSigningKey> & { publicKeyFile: string } {
  const dir = join(demoDir, 'models');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = generateSigningKey();
  writeFileSync(join(dir, 'demo-signing-key.pem'), key.privateKeyPem, { mode: 0o600 });
  chmodSync(join(dir, 'demo-signing-key.pem'), 0o600);
  const publicKeyFile = join(dir, 'demo-signing-key.pub.pem');
  writeFileSync(publicKeyFile, key.publicKeyPem);
  return { ...key, publicKeyFile };
}

export async function publishDemoModels(
  hub: Hub,
  demoDir: string,
  modelDir: string,
  key: { privateKeyPem: string },
): Promise<void> {
  const dir = join(demoDir, 'models');
  const [reference] = await phantomImages(join(dir, 'reference'), 1, 4242);
  for (const [version, source] of [
    ['0.2.0', modelDir],
    ['0.2.1', modelVersion(modelDir, join(dir, 'vigil-demo-0.2.1'), '0.2.1')],
  ] as const) {
    const pkg = await packAndSign(source, reference as string, join(dir, `vigil-demo-${version}.vpkg`), key.privateKeyPem);
    await hub.models.publish(pkg.path, pkg.signature, 'demo');
  }
}
