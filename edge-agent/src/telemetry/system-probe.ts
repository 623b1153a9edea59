import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import os from 'node:os';

export interface CpuTimes {
  idle: number;
  total: number;
}

export function cpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

/** Machine-wide CPU utilisation between two readings, 0-100. */
export function utilisationBetween(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, (1 - (after.idle - before.idle) / total) * 100));
}

export async function diskUsage(path: string): Promise<{ totalBytes: number; freeBytes: number }> {
  const s = await statfs(path);
  return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
}

export interface GpuReading {
  index: number;
  name: string;
  utilizationPct: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  temperatureC?: number;
}

const MIB = 1024 * 1024;

/** Parses `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(csv: string): GpuReading[] {
  return csv
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .flatMap((line) => {
      const [index, name, util, used, total, temp] = line.split(',').map((f) => f.trim());
      const numbers = [index, util, used, total].map((v) => Number(v));
      if (name === undefined || numbers.some((n) => Number.isNaN(n))) return [];
      const [i, u, m, t] = numbers as [number, number, number, number];
      const reading: GpuReading = {
        index: i,
        name,
        utilizationPct: Math.min(100, Math.max(0, u)),
        memoryUsedBytes: m * MIB,
        memoryTotalBytes: t * MIB,
      };
      const temperature = Number(temp);
      if (temp !== undefined && !Number.isNaN(temperature)) reading.temperatureC = temperature;
      return [reading];
    });
}

/** How long a command found missing is not looked for again. */
export const MISSING_COMMAND_RECHECK_MS = 10 * 60_000;
const missingUntil = new Map<string, number>();

/**
 * GPUs via nvidia-smi when it exists; an empty list on machines without one. A missing command is
 * not spawned again for ten minutes: each spawn forks the whole agent (gigabytes of mappings with the
 * model and WASM codecs loaded), and on a box without a GPU that cost every telemetry interval for
 * nothing — ten agents sampling each second spent most of a core in the kernel forking.
 */
export function readGpus(command = 'nvidia-smi', now = Date.now()): Promise<GpuReading[]> {
  if ((missingUntil.get(command) ?? 0) > now) return Promise.resolve([]);
  return new Promise((resolve) => {
    execFile(
      command,
      ['--query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu', '--format=csv,noheader,nounits'],
      { timeout: 5000 },
      (error, stdout) => {
        if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT')
          missingUntil.set(command, now + MISSING_COMMAND_RECHECK_MS);
        resolve(error ? [] : parseNvidiaSmi(stdout));
      },
    );
  });
}
