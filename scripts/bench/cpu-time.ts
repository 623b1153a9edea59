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

/**
 * CPU seconds of a process and every live descendant (a PostgreSQL postmaster and its backends).
 * A backend that exits between two readings takes its CPU with it; the hub's pool keeps its
 * backends for the whole run, so the figure covers the work done for it.
 */
export function treeCpuSeconds(rootPid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process exited while we looked
    }
  }
  let total = 0;
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    try {
      total += cpuSeconds(pid);
    } catch {
      continue;
    }
    queue.push(...(children.get(pid) ?? []));
  }
  return total;
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
