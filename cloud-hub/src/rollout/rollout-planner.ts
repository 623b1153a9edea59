import { createHash } from 'node:crypto';
import type { WaveSize } from './rollout-store.js';

export const DEFAULT_WAVES: WaveSize[] = [{ devices: 1 }, { percent: 10 }, { percent: 50 }, { percent: 100 }];

/** Parses `1,10%,50%,100%` (a count or a percentage per wave). */
export function parseWaves(text: string): WaveSize[] {
  return text.split(',').map((part) => {
    const t = part.trim();
    const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(t);
    if (!m) throw new Error(`wave "${t}" is neither a device count nor a percentage`);
    const n = Number(m[1]);
    return m[2] ? { percent: n } : { devices: n };
  });
}

export function formatWaves(waves: readonly WaveSize[]): string {
  return waves.map((w) => ('percent' in w ? `${w.percent}%` : String(w.devices))).join(', ');
}

/**
 * Assigns each device of the cohort to a wave. Devices are ordered by a hash of the rollout id and
 * device id, so the canary is a different device each rollout and waves spread across clinics;
 * cumulative sizes come from the spec, empty waves are dropped and the last wave takes everyone.
 */
export function planWaves(rolloutId: string, deviceIds: readonly string[], waves: readonly WaveSize[]): string[][] {
  const order = [...deviceIds].sort((a, b) => {
    const ha = createHash('sha256').update(`${rolloutId}:${a}`).digest('hex');
    const hb = createHash('sha256').update(`${rolloutId}:${b}`).digest('hex');
    return ha.localeCompare(hb) || a.localeCompare(b);
  });
  const n = order.length;
  const out: string[][] = [];
  let taken = 0;
  const sizes = waves.map((w) =>
    Math.min(n, Math.max(1, 'percent' in w ? Math.ceil((n * w.percent) / 100) : Math.floor(w.devices))),
  );
  sizes.push(n);
  for (const cumulative of sizes) {
    if (cumulative <= taken) continue;
    out.push(order.slice(taken, cumulative));
    taken = cumulative;
  }
  return out;
}
