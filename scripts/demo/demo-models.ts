import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hub } from '@vigil/cloud-hub';
import { generateSigningKey } from '@vigil/shared';
import { BUNDLED_VERSION, modelVersion, packAndSign, phantomImages } from '../harness/model-packages.js';

/**
 * DEMO FIXTURE: a signing key made for this run, the bundled model published as a package (so the
 * fleet can always roll back to it) and a next-patch package of the same weights, ready to roll out from
 * the dashboard's Rollouts page or `vigil-hub rollout start`.
 */
/** The update the demo offers to roll out: the bundled weights under the next patch version. */
export const DEMO_UPDATE_VERSION = BUNDLED_VERSION.replace(/(\d+)$/, (n) => String(Number(n) + 1));
/** The version the demo's feedback loop fine-tunes on clinicians' verdicts: the next minor. */
export const DEMO_FIELD_VERSION = BUNDLED_VERSION.replace(
  /^(\d+)\.(\d+)\.\d+$/,
  (_, major, minor) => `${major}.${Number(minor) + 1}.0`,
);

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
    [BUNDLED_VERSION, modelDir],
    [DEMO_UPDATE_VERSION, modelVersion(modelDir, join(dir, `vigil-demo-${DEMO_UPDATE_VERSION}`), DEMO_UPDATE_VERSION)],
  ] as const) {
    const pkg = await packAndSign(source, reference as string, join(dir, `vigil-demo-${version}.vpkg`), key.privateKeyPem);
    await hub.models.publish(pkg.path, pkg.signature, 'demo');
  }
}
