// `npm run release`: installable tarballs of a compiled Vigil, for hospital IT.
//
//   release/vigil-cloud-hub-VERSION.tgz   the hub: dist/, dashboard assets, default model, @vigil/shared inside
//   release/vigil-edge-agent-VERSION.tgz  the edge agent: dist/, default model, @vigil/shared inside
//   release/prebuilds/…                   native addons built for this platform (offline installs)
//   release/package.json                  the installation's manifest: which install scripts may run
//                                         (onnxruntime-node's CUDA download may not) and the checkout's
//                                         dependency overrides; install with `npm install --omit=dev ./TARBALL`
//   release/SHA256SUMS
//
// Each package is staged from its compiled dist/ with a package.json whose entry points, bins and
// workers are JavaScript (a checkout's point at TypeScript run through tsx), then `npm pack`ed.
// @vigil/shared travels inside both tarballs (bundled), so neither needs a registry holding it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { ROOT, type WorkspaceManifest, workspaceManifest } from './workspace-imports.js';

export interface ReleaseOptions {
  outDir: string;
  /** Run `npm run build` first (default true). */
  build?: boolean;
  log?: (line: string) => void;
}

export interface Release {
  dir: string;
  hub: string;
  edge: string;
  prebuilds: string;
}

const COMPILED_EXPORTS = { '.': { types: './dist/index.d.ts', default: './dist/index.js' } };

/** The published manifest: what the package needs at run time, and nothing of the checkout's. */
function releaseManifest(m: WorkspaceManifest, extra: Partial<WorkspaceManifest>): WorkspaceManifest {
  const { devDependencies: _dev, scripts: _scripts, private: _private, ...rest } = m;
  return {
    ...rest,
    license: 'Apache-2.0',
    engines: { node: '>=20.10' },
    exports: COMPILED_EXPORTS,
    ...extra,
  };
}

function copyDist(workspace: string, to: string): void {
  cpSync(join(ROOT, workspace, 'dist'), join(to, 'dist'), {
    recursive: true,
    filter: (path) => !path.endsWith('.tsbuildinfo'),
  });
}

function stageShared(stage: string): WorkspaceManifest {
  const manifest = workspaceManifest('shared');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  copyDist('shared', stage);
  const published = releaseManifest(manifest, { files: ['dist'] });
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);
  return published;
}

function stageApp(
  workspace: 'cloud-hub' | 'edge-agent',
  binName: string,
  stage: string,
  sharedStage: string,
  assets: Array<{ from: string; to: string }>,
): void {
  const manifest = workspaceManifest(workspace);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  copyDist(workspace, stage);
  for (const asset of assets) cpSync(join(ROOT, asset.from), join(stage, asset.to), { recursive: true });
  // @vigil/shared inside the tarball (bundleDependencies): one install, no private registry.
  cpSync(sharedStage, join(stage, 'node_modules/@vigil/shared'), { recursive: true });
  // The bundled copy of @vigil/shared resolves its own dependencies from the installation's
  // node_modules: they are this package's dependencies too.
  const shared = JSON.parse(readFileSync(join(sharedStage, 'package.json'), 'utf8')) as WorkspaceManifest;
  const dependencies = Object.fromEntries(
    Object.entries({ ...shared.dependencies, ...manifest.dependencies }).sort(([a], [b]) => a.localeCompare(b)),
  );
  const published = releaseManifest(manifest, {
    dependencies,
    bin: { [binName]: './dist/bin.js' },
    files: ['dist', ...assets.map((a) => a.to)],
    bundleDependencies: ['@vigil/shared'],
  });
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);
  const readme = join(ROOT, 'README.md');
  if (existsSync(readme)) cpSync(readme, join(stage, 'README.md'));
}

function npmPack(stage: string, outDir: string): string {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', outDir], {
    cwd: stage,
    encoding: 'utf8',
    env: { ...process.env, npm_config_loglevel: 'error' },
  });
  const [info] = JSON.parse(out) as Array<{ filename: string }>;
  if (!info) throw new Error(`npm pack gave nothing for ${stage}`);
  return join(outDir, info.filename);
}

/**
 * better-sqlite3's prebuild-install looks for `PREFIX/better-sqlite3-vVERSION-node-vABI-PLATFORM-ARCH.tar.gz`
 * before it downloads or compiles (PREFIX from `npm_config_better_sqlite3_local_prebuilds`): the addon
 * this checkout built, packed that way, makes an offline install take seconds instead of a compile.
 */
async function packPrebuilds(outDir: string): Promise<string> {
  const dir = join(outDir, 'prebuilds');
  mkdirSync(dir, { recursive: true });
  const pkg = join(ROOT, 'node_modules/better-sqlite3');
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string };
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await createTar({ gzip: true, cwd: pkg, file: join(dir, name), portable: true }, ['build/Release/better_sqlite3.node']);
  return dir;
}

/** The installation directory's package.json: npm refuses `--allow-scripts` in a project, so it lives here. */
function installManifest(): Record<string, unknown> {
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  return {
    name: 'vigil-installation',
    private: true,
    description: 'A Vigil installation: npm install --omit=dev ./vigil-cloud-hub-VERSION.tgz (or the edge agent tarball)',
    engines: root.engines,
    allowScripts: root.allowScripts,
    overrides: root.overrides,
  };
}

export async function buildRelease(options: ReleaseOptions): Promise<Release> {
  const log = options.log ?? (() => {});
  const outDir = options.outDir;
  if (options.build !== false) {
    log('building (tsc -b, dashboard) from clean dist/ folders…');
    for (const ws of ['shared', 'edge-agent', 'cloud-hub']) rmSync(join(ROOT, ws, 'dist'), { recursive: true, force: true });
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const stages = join(outDir, '.stage');
  const sharedStage = join(stages, 'shared');
  stageShared(sharedStage);
  const model = { from: 'models/vigil-demo', to: 'models/vigil-demo' };
  log('staging @vigil/cloud-hub…');
  stageApp('cloud-hub', 'vigil-hub', join(stages, 'cloud-hub'), sharedStage, [
    { from: 'cloud-hub/web/dist', to: 'web/dist' },
    model,
  ]);
  log('staging @vigil/edge-agent…');
  stageApp('edge-agent', 'vigil-edge', join(stages, 'edge-agent'), sharedStage, [model]);
  log('packing…');
  const hub = npmPack(join(stages, 'cloud-hub'), outDir);
  const edge = npmPack(join(stages, 'edge-agent'), outDir);
  const prebuilds = await packPrebuilds(outDir);
  rmSync(stages, { recursive: true, force: true });
  const sums = [hub, edge, ...readdirSync(prebuilds).map((f) => join(prebuilds, f))].map(
    (file) => `${createHash('sha256').update(readFileSync(file)).digest('hex')}  ${file.slice(outDir.length + 1)}`,
  );
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify(installManifest(), null, 2)}\n`);
  writeFileSync(join(outDir, 'SHA256SUMS'), `${sums.join('\n')}\n`);
  return { dir: outDir, hub, edge, prebuilds };
}
