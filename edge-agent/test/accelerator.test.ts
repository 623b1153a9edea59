// What `vigil-edge doctor` and the model loader say about the GPU path. There is no GPU here, so a
// GPU box is STOOD IN FOR by a prepared directory tree read as the root (device node, driver files,
// CUDA libraries, onnxruntime-node's CUDA provider): the probe reads files only, so the tree is what a
// real box would show it. The reasons come in the order an installer fixes them. The real command
// runs on this machine (no NVIDIA device) and says why it infers on the CPU.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { CUDA_LIBRARIES, cpuFallbackReason, probeAccelerator, pruneOnnxRuntime } from '../src/inference/accelerator.js';

const EDGE_BIN = join(import.meta.dirname, '../bin/vigil-edge.mjs');

function touch(path: string, text = ''): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

test('a GPU box stood in for by a file tree: each missing piece is named, in the order it is fixed', () => {
  const root = makeTempDir('gpu-box');
  try {
    const r = root.path;
    const ortBinDir = join(r, 'ort-bin');
    mkdirSync(ortBinDir, { recursive: true });
    const probe = () => probeAccelerator({ root: r, env: { LD_LIBRARY_PATH: join(r, 'opt/cudnn/lib') }, ortBinDir });
    assert.match(cpuFallbackReason(probe()) ?? '', /no NVIDIA device/);

    touch(join(r, 'dev/nvidiactl'));
    touch(join(r, 'proc/driver/nvidia/version'), 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15\nGCC version\n');
    touch(join(r, 'proc/driver/nvidia/gpus/0000:01:00.0/information'), 'Model: \t\t NVIDIA H100 PCIe\nIRQ: 42\n');
    let p = probe();
    assert.equal(p.nvidiaDevice, true);
    assert.deepEqual(p.gpus, ['NVIDIA H100 PCIe']);
    assert.match(p.driver ?? '', /550\.54\.15/);
    assert.match(cpuFallbackReason(p) ?? '', /CUDA provider is not installed.*cuda12/);

    touch(join(ortBinDir, 'libonnxruntime_providers_cuda.so'));
    // CUDA from /usr/local/cuda, cuDNN from LD_LIBRARY_PATH; one library still missing.
    for (const lib of CUDA_LIBRARIES.filter((l) => l !== 'libcudnn.so.9' && l !== 'libcufft.so.11'))
      touch(join(r, 'usr/local/cuda/lib64', lib));
    touch(join(r, 'opt/cudnn/lib/libcudnn.so.9'));
    p = probe();
    assert.equal(p.cudaProvider, join(ortBinDir, 'libonnxruntime_providers_cuda.so'));
    assert.equal(p.cudaLibraries.find((l) => l.name === 'libcudnn.so.9')?.path, join(r, 'opt/cudnn/lib/libcudnn.so.9'));
    assert.equal(cpuFallbackReason(p), 'CUDA libraries not found: libcufft.so.11 (CUDA 12 and cuDNN 9 are needed)');

    // Found through /etc/ld.so.conf.d, as a distribution's CUDA packages register themselves.
    touch(join(r, 'etc/ld.so.conf.d/cuda.conf'), '/opt/cuda-extra/lib\n');
    touch(join(r, 'opt/cuda-extra/lib/libcufft.so.11'));
    p = probe();
    assert.equal(cpuFallbackReason(p), undefined, 'nothing stands in the way');
    assert.match(
      cpuFallbackReason(p, 'CUDA failure 35: CUDA driver version is insufficient') ?? '',
      /failed to start: CUDA failure 35/,
    );
  } finally {
    root.remove();
  }
});

test('vigil-edge doctor on this machine: the model loads on the CPU and the reason is given', () => {
  const run = spawnSync(process.execPath, [EDGE_BIN, 'doctor', '--model', join(import.meta.dirname, '../../models/vigil-demo')], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, VIGIL_LOG_LEVEL: 'silent' },
  });
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout) as {
    nvidiaDevice: boolean;
    provider: string;
    cpuReason: string | null;
    model: string;
    cpus: number;
    jpeg2000Decoder: string;
  };
  assert.equal(report.provider, 'cpu');
  assert.match(report.model, /^vigil-demo /);
  assert.ok(report.cpus >= 1);
  assert.equal(report.nvidiaDevice, false);
  assert.match(report.cpuReason ?? '', /no NVIDIA device/);
  assert.match(run.stderr, /inference runs on the CPU: no NVIDIA device/);
  // libopenjp2-tools is installed here (.ci/run), so JPEG 2000 decodes natively.
  assert.match(report.jpeg2000Decoder, /\/opj_decompress \(OpenJPEG, native, \d+ threads\)$/);
});

test('prune-runtime keeps only this platform’s ONNX Runtime libraries', () => {
  const dir = makeTempDir('ort-prune');
  try {
    const bin = join(dir.path, 'bin');
    for (const [platform, arch] of [
      ['linux', 'x64'],
      ['linux', 'arm64'],
      ['darwin', 'arm64'],
      ['win32', 'x64'],
    ] as const)
      touch(join(bin, 'napi-v6', platform, arch, 'libonnxruntime.so.1'), 'x'.repeat(1000));
    const { removed, bytes } = pruneOnnxRuntime(bin, { platform: 'linux', arch: 'x64' });
    assert.equal(removed.length, 3);
    assert.equal(bytes, 3000);
    assert.ok(existsSync(join(bin, 'napi-v6/linux/x64/libonnxruntime.so.1')));
    assert.ok(!existsSync(join(bin, 'napi-v6/linux/arm64')) && !existsSync(join(bin, 'napi-v6/darwin')));
  } finally {
    dir.remove();
  }
});
