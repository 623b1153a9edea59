import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The CUDA libraries ONNX Runtime 1.2x's CUDA execution provider loads (CUDA 12, cuDNN 9): without
 * them the provider cannot start and inference falls back to the CPU.
 */
export const CUDA_LIBRARIES = [
  'libcudart.so.12',
  'libcublas.so.12',
  'libcublasLt.so.12',
  'libcufft.so.11',
  'libcudnn.so.9',
] as const;

/** What this box offers inference (read from files only: nothing is loaded or run). */
export interface AcceleratorProbe {
  /** An NVIDIA device node (/dev/nvidiactl) is present. */
  nvidiaDevice: boolean;
  /** The kernel driver's version line (/proc/driver/nvidia/version). */
  driver?: string;
  /** GPU models the driver lists (/proc/driver/nvidia/gpus/*\/information). */
  gpus: string[];
  /** Each CUDA library the provider needs, with where it was found (undefined: not found). */
  cudaLibraries: { name: string; path?: string }[];
  /** onnxruntime-node's CUDA provider library is installed (the `--onnxruntime-node-install=cuda12` flow or by hand). */
  cudaProvider?: string;
  cpus: number;
}

/** The folders the dynamic loader searches, in its order (LD_LIBRARY_PATH, ld.so.conf, the defaults). */
function librarySearchPath(env: NodeJS.ProcessEnv, root: string): string[] {
  const dirs = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const confFiles = [join(root, 'etc/ld.so.conf')];
  const confDir = join(root, 'etc/ld.so.conf.d');
  if (existsSync(confDir)) for (const f of readdirSync(confDir).sort()) if (f.endsWith('.conf')) confFiles.push(join(confDir, f));
  for (const file of confFiles) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const d = line.trim();
      if (d.startsWith('/')) dirs.push(join(root, d));
    }
  }
  dirs.push(
    ...['usr/local/cuda/lib64', 'usr/lib/x86_64-linux-gnu', 'usr/lib/aarch64-linux-gnu', 'usr/lib64', 'usr/lib', 'lib'].map((d) =>
      join(root, d),
    ),
  );
  return [...new Set(dirs)];
}

function firstLine(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').split('\n')[0]?.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Where onnxruntime-node keeps its native libraries for this platform. */
export function onnxRuntimeBinDir(): string | undefined {
  try {
    const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'bin');
    // bin/napi-vN/{platform}/{arch}: N is the N-API version the package was built for (6 for 1.30).
    const napi = readdirSync(bin)
      .filter((d) => /^napi-v\d+$/.test(d))
      .sort()
      .at(-1);
    return napi ? join(bin, napi, process.platform, process.arch) : undefined;
  } catch {
    return undefined;
  }
}

/** Probes the box (`root` lets a test stand in a prepared directory tree for /). */
export function probeAccelerator(o: { root?: string; env?: NodeJS.ProcessEnv; ortBinDir?: string } = {}): AcceleratorProbe {
  const root = o.root ?? '/';
  const search = librarySearchPath(o.env ?? process.env, root);
  const gpuDir = join(root, 'proc/driver/nvidia/gpus');
  const gpus = existsSync(gpuDir)
    ? readdirSync(gpuDir).flatMap((bus) => {
        const info = existsSync(join(gpuDir, bus, 'information')) ? readFileSync(join(gpuDir, bus, 'information'), 'utf8') : '';
        const model = /^Model:\s*(.+)$/m.exec(info)?.[1]?.trim();
        return model ? [model] : [];
      })
    : [];
  const ortBin = o.ortBinDir ?? onnxRuntimeBinDir();
  const provider = ortBin ? join(ortBin, 'libonnxruntime_providers_cuda.so') : undefined;
  const driver = firstLine(join(root, 'proc/driver/nvidia/version'));
  return {
    nvidiaDevice: existsSync(join(root, 'dev/nvidiactl')),
    ...(driver ? { driver } : {}),
    gpus,
    cudaLibraries: CUDA_LIBRARIES.map((name) => {
      const path = search.map((d) => join(d, name)).find((p) => existsSync(p));
      return path ? { name, path } : { name };
    }),
    ...(provider && existsSync(provider) ? { cudaProvider: provider } : {}),
    cpus: availableParallelism(),
  };
}

/**
 * Why inference will not (or did not) run on the GPU, in the order an installer would fix it;
 * undefined when nothing stands in the way. `loadError` is the CUDA session's own error, if one was tried.
 */
export function cpuFallbackReason(p: AcceleratorProbe, loadError?: string): string | undefined {
  if (!p.nvidiaDevice) return 'no NVIDIA device (/dev/nvidiactl): CPU inference';
  if (!p.cudaProvider)
    return "onnxruntime-node's CUDA provider is not installed (docs/operations.md, GPU boxes: --onnxruntime-node-install=cuda12)";
  const missing = p.cudaLibraries.filter((l) => !l.path).map((l) => l.name);
  if (missing.length > 0) return `CUDA libraries not found: ${missing.join(', ')} (CUDA 12 and cuDNN 9 are needed)`;
  if (loadError) return `the CUDA provider failed to start: ${loadError.slice(0, 300)}`;
  return undefined;
}

function sizeOf(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, name) => n + sizeOf(join(path, name)), 0);
}

/**
 * Removes ONNX Runtime's native libraries for every other platform and architecture from an
 * installation (onnxruntime-node ships Linux, macOS and Windows builds, about 290 MB; one platform
 * needs about 70 MB). `binRoot` is onnxruntime-node's `bin` folder. Returns what was removed.
 */
export function pruneOnnxRuntime(
  binRoot: string,
  keep: { platform: string; arch: string } = { platform: process.platform, arch: process.arch },
): { removed: string[]; bytes: number } {
  const removed: string[] = [];
  let bytes = 0;
  for (const napi of readdirSync(binRoot).filter((d) => /^napi-v\d+$/.test(d))) {
    for (const platform of readdirSync(join(binRoot, napi))) {
      const platformDir = join(binRoot, napi, platform);
      const targets =
        platform === keep.platform
          ? readdirSync(platformDir)
              .filter((arch) => arch !== keep.arch)
              .map((arch) => join(platformDir, arch))
          : [platformDir];
      for (const t of targets) {
        bytes += sizeOf(t);
        rmSync(t, { recursive: true, force: true });
        removed.push(t);
      }
    }
  }
  return { removed, bytes };
}
