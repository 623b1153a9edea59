import type { Logger } from '@vigil/shared';
import type { HubEvents } from '../events/hub-events.js';
import type { NewOpsAlert, OpsAlert, OpsAlertStore } from './ops-alert-store.js';

/** What a periodic ops watch needs: where alerts go, who hears of them, and when it runs. */
export interface PeriodicWatchOptions {
  alerts: OpsAlertStore;
  events?: Pick<HubEvents, 'emit'>;
  logger: Logger;
  intervalMs: number;
  /** Whether this replica does singleton work now (the watch runs on one replica at a time). */
  leader: () => boolean;
}

/**
 * An ops watch that looks at something now and then, on the replica holding the lease, and raises
 * the alerts it finds (keyed, so each is raised once), logging and announcing each new one. One
 * check runs at a time; a failed check is logged and the next one tries again.
 */
export abstract class PeriodicWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<OpsAlert[]> | undefined;

  constructor(
    private readonly watch: PeriodicWatchOptions,
    /** For the log line of a failed check, e.g. "performance watch". */
    private readonly name: string,
  ) {}

  /** The alerts the watched state calls for now (raised only if new). */
  protected abstract findAlerts(): Promise<NewOpsAlert[]>;

  start(): void {
    this.timer = setInterval(() => {
      if (this.watch.leader())
        void this.check().catch((error: Error) => this.watch.logger.warn({ err: error.message }, `${this.name} failed`));
    }, this.watch.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Looks now and raises what is new; returns the alerts raised now. */
  check(): Promise<OpsAlert[]> {
    this.running ??= (async () => {
      try {
        const raised = await this.watch.alerts.raise(await this.findAlerts());
        for (const a of raised) {
          this.watch.logger.warn({ alertKey: a.alertKey, clinicId: a.clinicId }, a.summary);
          this.watch.events?.emit({
            type: 'ops-alert',
            alertKey: a.alertKey,
            severity: a.severity,
            clinicId: a.clinicId,
            summary: a.summary,
          });
        }
        return raised;
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}
