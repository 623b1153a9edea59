import { readdirSync, readFileSync } from 'node:fs';

// Linux reports utime and stime in clock ticks (USER_HZ), 100 per second on every mainstream build.
const TICKS_PER_S = 100;

/** CPU seconds (user + system) a process, or one of its threads, has used so far, from /proc. */
export function cpuSeconds(pid: number, tid?: number): number {
  const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
  const stat = readFileSync(path, 'utf8');
  // Field 2 (comm) may contain spaces; the fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** CPU seconds so far of each thread of a process, by thread name and id (for diagnosis). */
export function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    out[`${name}:${tid}`] = cpuSeconds(pid, Number(tid));
  }
  return out;
}

/** This process's own CPU seconds (all threads). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU used between `start()` and `stop()` by the named processes/threads, in µs per message. */
export class CpuMeter {
  private readonly probes: Record<string, () => number>;
  private before: Record<string, number> = {};

  constructor(probes: Record<string, () => number>) {
    this.probes = probes;
  }

  start(): void {
    this.before = Object.fromEntries(Object.entries(this.probes).map(([name, read]) => [name, read()]));
  }

  stop(messages: number): Record<string, number> {
    return Object.fromEntries(
      Object.entries(this.probes).map(([name, read]) => [
        name,
        Math.round(((read() - (this.before[name] ?? 0)) * 1e6) / messages),
      ]),
    );
  }
}
