import { VigilError } from '@vigil/shared';

/**
 * At most `max` tasks at once, at most `maxQueued` waiting; a task beyond that is refused at once
 * (it would only wait behind an attack). Used to bound argon2 work from unauthenticated peers, so
 * that a flood of wrong passwords cannot take every core from ingest and the API. Hand-written: it
 * is a dozen lines, and it must refuse rather than queue without bound as p-limit would.
 */
export class ConcurrencyGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) {
      if (this.waiting.length >= this.maxQueued) {
        throw new VigilError('VIGIL_MQTT_AUTH_FAILED', 'too many authentication attempts in progress; retry later');
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
