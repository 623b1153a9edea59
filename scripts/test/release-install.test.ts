// A release as hospital IT installs it: the tarballs `npm run release` makes, installed with
// `npm install --omit=dev` into an empty directory (no checkout, no dev dependencies, no TypeScript
// loader), then hub and edge started from there; a mammogram sent by dcmtk's storescu must reach the hub.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { freePort } from '../harness/free-port.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { waitFor } from '../harness/wait-for.js';
import { generatePhantoms } from '../phantoms/generate-phantoms.js';
import { buildRelease } from '../release/pack.js';
import { ROOT } from '../release/workspace-imports.js';

const run = promisify(execFile);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

test('release tarballs install with --omit=dev into an empty directory; hub and edge run from there', async () => {
  for (const ws of ['shared', 'edge-agent', 'cloud-hub']) {
    assert.ok(existsSync(join(ROOT, ws, 'dist/index.js')), `${ws}/dist is built (npm run build)`);
  }
  const dir = makeTempDir('release');
  const children: ChildProcess[] = [];
  try {
    const release = await buildRelease({ outDir: join(dir.path, 'release'), build: false });
    const installDir = join(dir.path, 'opt-vigil');
    await run('mkdir', ['-p', installDir]);
    copyFileSync(join(release.dir, 'package.json'), join(installDir, 'package.json'));
    const install = await run(
      'npm',
      ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', release.hub, release.edge],
      {
        cwd: installDir,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, npm_config_better_sqlite3_local_prebuilds: release.prebuilds },
      },
    );
    const said = `${install.stdout}\n${install.stderr}`;
    // Quiet: no engine mismatch, no install script left undecided.
    assert.doesNotMatch(said, /EBADENGINE|install-scripts|not yet covered/, said);

    const modules = join(installDir, 'node_modules');
    assert.ok(!existsSync(join(modules, 'tsx')), 'no TypeScript loader in a release');
    assert.ok(!existsSync(join(modules, 'typescript')), 'no compiler in a release');
    for (const pkg of ['@vigil/cloud-hub', '@vigil/edge-agent']) {
      const files = walk(join(modules, pkg)).map((f) => f.slice(join(modules, pkg).length + 1));
      const sources = files.filter((f) => (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.endsWith('.mjs'));
      assert.deepEqual(sources, [], `${pkg} ships compiled JavaScript only`);
      assert.ok(files.includes('models/vigil-demo/model.onnx'), `${pkg} carries the default model`);
      assert.ok(files.includes('node_modules/@vigil/shared/dist/index.js'), `${pkg} carries @vigil/shared`);
    }
    assert.ok(existsSync(join(modules, '@vigil/cloud-hub/web/dist/index.html')), 'the hub carries the dashboard');

    // The hub, from the installation.
    const hubBin = join(modules, '.bin/vigil-hub');
    const edgeBin = join(modules, '.bin/vigil-edge');
    const hubData = join(dir.path, 'hub-data');
    const httpPort = await freePort();
    const mqttPort = await freePort();
    const hubEnv = {
      ...process.env,
      VIGIL_DATA_DIR: hubData,
      VIGIL_HTTP__PORT: String(httpPort),
      VIGIL_MQTT__LISTEN__PORT: String(mqttPort),
      VIGIL_LOG_LEVEL: 'warn',
    };
    const added = await run(hubBin, ['device', 'add', 'clinic-r', 'edge-r'], { env: hubEnv });
    const { password } = JSON.parse(added.stdout) as { password: string };
    const hub = spawn(hubBin, ['serve'], { env: hubEnv, stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(hub);
    await waitFor(
      'installed hub ready',
      async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok === true,
      120_000,
      200,
    );

    // Only this platform's ONNX Runtime stays in the installation (and the edge still infers below).
    const ortBin = join(modules, 'onnxruntime-node/bin');
    const pruned = JSON.parse((await run(edgeBin, ['prune-runtime'])).stdout) as { removed: number; freedMb: number };
    assert.ok(pruned.removed >= 2 && pruned.freedMb >= 100, JSON.stringify(pruned));
    const platforms = readdirSync(ortBin).flatMap((napi) => readdirSync(join(ortBin, napi)));
    assert.deepEqual(platforms, [process.platform]);

    // The edge, from the installation, with the model the release carries.
    const dicomPort = await freePort();
    const edge = spawn(edgeBin, ['serve'], {
      env: {
        ...process.env,
        VIGIL_CLINIC_ID: 'clinic-r',
        VIGIL_DEVICE_ID: 'edge-r',
        VIGIL_DATA_DIR: join(dir.path, 'edge-data'),
        VIGIL_MQTT__URL: `mqtt://127.0.0.1:${mqttPort}`,
        VIGIL_MQTT__PASSWORD: password,
        VIGIL_DICOM__ENABLED: 'true',
        VIGIL_DICOM__PORT: String(dicomPort),
        VIGIL_DICOM__ALLOW_ANY_CALLING_AE: 'true',
        VIGIL_DEID__SECRET: 'release-test-deid-secret-0123456789',
        VIGIL_MODEL__DIR: join(modules, '@vigil/edge-agent/models/vigil-demo'),
        VIGIL_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(edge);

    const phantoms = join(dir.path, 'phantoms');
    await generatePhantoms({ out: phantoms, patients: 1, visits: 1, seed: 4242, rows: 512, columns: 416 });
    const dcm = walk(phantoms).find((f) => f.endsWith('.dcm'));
    assert.ok(dcm, 'a phantom mammogram');
    await waitFor(
      'storescu accepted by the installed edge',
      async () =>
        run('storescu', ['-aec', 'VIGIL', '-aet', 'MODALITY1', '127.0.0.1', String(dicomPort), dcm]).then(
          () => true,
          () => false,
        ),
      120_000,
      500,
    );
    const stateFile = join(hubData, 'state.sqlite');
    const results = () => {
      if (!existsSync(stateFile)) return [];
      const db = new Database(stateFile, { readonly: true, fileMustExist: true });
      try {
        return db.prepare('SELECT model_name AS model FROM results').all() as Array<{ model: string }>;
      } finally {
        db.close();
      }
    };
    await waitFor('the result at the installed hub', () => results().length === 1, 180_000, 250);
    assert.equal(results()[0]?.model, 'vigil-demo', 'inferred by the released model');
    assert.ok(readFileSync(join(installDir, 'package-lock.json'), 'utf8').includes('"node_modules/@vigil/cloud-hub"'));
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    dir.remove();
  }
});
