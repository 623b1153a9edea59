import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  asVigilError,
  type DeviceAddress,
  type Logger,
  MODEL_REPORTED_SCHEMA,
  type ModelDesiredMessage,
  type ModelReportedMessage,
  newMessageId,
  type TrustedKeys,
  VigilError,
  verifyPackageSignature,
} from '@vigil/shared';
import type { DeviceHttp } from '../identity/device-http.js';
import { OnnxModel } from '../inference/onnx-model.js';
import { unpackModel } from './model-package-file.js';
import { downloadPackage } from './package-download.js';
import { runSelfTest, type SelfTest } from './self-test.js';

export type { SelfTest };

type PackageRef = ModelDesiredMessage['active'];
type ModelRef = { name: string; version: string };

interface InstalledModel {
  ref: ModelRef;
  dir: string;
  model: OnnxModel;
}

interface PersistedState {
  active: (ModelRef & { dir: string }) | null;
  previous: (ModelRef & { dir: string }) | null;
}

export interface ModelManagerOptions {
  address: DeviceAddress;
  dataDir: string;
  trustedKeys: TrustedKeys;
  threads: number;
  /** Device credentials for package downloads (its certificate once enrolled, else its password). */
  http: DeviceHttp;
  logger: Logger;
  /** Publishes a retained model/reported message (through the durable outbox). */
  report: (message: ModelReportedMessage) => void;
  /** The active model changed (status republished, telemetry provider updated). */
  onActiveChanged?: (model: OnnxModel) => void;
  /** The self-test every package passes before it is activated (default: its reference image). */
  selfTest?: SelfTest;
  retryMs?: { min: number; max: number };
  /** Failed download attempts reported as still `downloading` before `failed` (default 5). */
  downloadAttempts?: number;
}

const same = (a: ModelRef | undefined | null, b: ModelRef | undefined | null) =>
  !!a && !!b && a.name === b.name && a.version === b.version;

/**
 * Desired/reported model state on the edge: downloads a package, verifies size, SHA-256 and the
 * ed25519 signature against trusted keys, unpacks it, loads it, self-tests it on its reference
 * image and only then swaps it in — between images, so no image ever meets a half-loaded model.
 * The previous model stays loaded for instant rollback. A tampered, unsigned or failing package is
 * refused and reported; the current model keeps running.
 */
export class ModelManager {
  active: InstalledModel | undefined;
  previous: InstalledModel | undefined;
  shadow: InstalledModel | undefined;
  /** The last package this device refused, and why (also reported to the hub). */
  lastRefusal: { model: ModelRef; code: string; message: string; at: string } | undefined;
  private latest: ModelDesiredMessage | undefined;
  private working: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAttempt = 0;
  private stopped = false;
  private readonly root: string;
  constructor(private readonly o: ModelManagerOptions) {
    this.root = join(o.dataDir, 'models');
    mkdirSync(join(this.root, 'packages'), { recursive: true });
  }

  private get statePath(): string {
    return join(this.root, 'state.json');
  }

  /** Loads the model installed last time, or else the configured one. */
  async start(configuredDir: string | undefined): Promise<void> {
    const saved = existsSync(this.statePath) ? (JSON.parse(readFileSync(this.statePath, 'utf8')) as PersistedState) : undefined;
    if (saved?.active && existsSync(saved.active.dir)) {
      this.active = await this.load(saved.active.dir);
      if (saved.previous && existsSync(saved.previous.dir))
        this.previous = await this.load(saved.previous.dir).catch(() => undefined);
    } else if (configuredDir) {
      this.active = await this.load(configuredDir);
    }
    if (this.active) this.o.onActiveChanged?.(this.active.model);
  }

  private async load(dir: string): Promise<InstalledModel> {
    const model = await OnnxModel.load(dir, { threads: this.o.threads });
    return { ref: { name: model.manifest.name, version: model.manifest.version }, dir, model };
  }

  private persist(): void {
    const state: PersistedState = {
      active: this.active ? { ...this.active.ref, dir: this.active.dir } : null,
      previous: this.previous ? { ...this.previous.ref, dir: this.previous.dir } : null,
    };
    const tmp = `${this.statePath}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    renameSync(tmp, this.statePath);
  }

  private report(state: ModelReportedMessage['state'], model: ModelRef, reason?: VigilError): void {
    this.o.report({
      schema: MODEL_REPORTED_SCHEMA,
      messageId: newMessageId(),
      ...this.o.address,
      at: new Date().toISOString(),
      state,
      model: { name: model.name, version: model.version },
      ...(this.active ? { active: this.active.ref } : {}),
      ...(this.previous ? { previous: this.previous.ref } : {}),
      ...(this.latest?.rolloutId ? { rolloutId: this.latest.rolloutId } : {}),
      ...(reason ? { reason: { code: reason.code, message: reason.message.slice(0, 500) } } : {}),
    });
  }

  /** Handles a desired-state message (retained, so it also arrives after every reconnect). */
  onDesired(message: ModelDesiredMessage): void {
    this.latest = message;
    this.retryAttempt = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.working ??= this.converge().finally(() => {
      this.working = undefined;
    });
  }

  /** Resolves when the latest desired state has been handled (installed, refused or scheduled). */
  async settled(): Promise<void> {
    while (this.working) await this.working;
  }

  private async converge(): Promise<void> {
    let handled: ModelDesiredMessage | undefined;
    while (!this.stopped && this.latest && this.latest !== handled) {
      handled = this.latest;
      await this.applyActive(handled);
      await this.applyShadow(handled);
    }
  }

  private async applyActive(desired: ModelDesiredMessage): Promise<void> {
    const want = desired.active;
    if (same(this.active?.ref, want)) {
      this.report('active', want);
      return;
    }
    if (this.previous && same(this.previous.ref, want)) {
      // Instant rollback: the previous model is still loaded.
      [this.active, this.previous] = [this.previous, this.active];
      this.persist();
      if (this.active) this.o.onActiveChanged?.(this.active.model);
      this.o.logger.warn({ model: want.name, version: want.version }, 'rolled back to the previous model');
      this.report('rolled-back', want);
      return;
    }
    try {
      const installed = await this.install(want);
      if (this.latest !== desired) {
        await installed.model.close();
        return;
      }
      const retired = this.previous;
      this.previous = this.active;
      this.active = installed;
      this.persist();
      this.o.onActiveChanged?.(installed.model);
      if (retired && !same(retired.ref, this.active.ref)) await retired.model.close();
      this.o.logger.info({ model: want.name, version: want.version }, 'model activated');
      this.report('active', want);
    } catch (error) {
      this.fail(desired, want, error);
    }
  }

  private async applyShadow(desired: ModelDesiredMessage): Promise<void> {
    const want = desired.shadow;
    if (!want) {
      if (this.shadow) {
        const old = this.shadow;
        this.shadow = undefined;
        await old.model.close();
      }
      return;
    }
    if (same(this.shadow?.ref, want)) {
      this.report('shadow', want);
      return;
    }
    try {
      const installed = await this.install(want);
      const old = this.shadow;
      this.shadow = installed;
      if (old) await old.model.close();
      this.report('shadow', want);
    } catch (error) {
      this.fail(desired, want, error);
    }
  }

  private fail(desired: ModelDesiredMessage, want: PackageRef, error: unknown): void {
    const vigil = asVigilError(error, 'VIGIL_MODEL_INVALID');
    const transient = vigil.code === 'VIGIL_MODEL_DOWNLOAD_FAILED' && !this.stopped;
    if (transient && this.retryAttempt < (this.o.downloadAttempts ?? 5)) {
      // The hub may be briefly unreachable (restart, network): still downloading, with the reason of
      // the failed attempt, so a rollout does not count an outage as a failed install.
      this.o.logger.warn(
        { code: vigil.code, model: want.name, version: want.version, attempt: this.retryAttempt + 1 },
        `model download failed, retrying: ${vigil.message}`,
      );
      this.report('downloading', want, vigil);
    } else {
      this.o.logger.error({ code: vigil.code, model: want.name, version: want.version }, `model refused: ${vigil.message}`);
      this.lastRefusal = {
        model: { name: want.name, version: want.version },
        code: vigil.code,
        message: vigil.message,
        at: new Date().toISOString(),
      };
      this.report('failed', want, vigil);
    }
    if (transient) {
      // The hub may be briefly unreachable: try again with backoff while this is still what is wanted.
      const { min, max } = this.o.retryMs ?? { min: 2000, max: 60_000 };
      const delay = Math.min(max, min * 2 ** this.retryAttempt++);
      this.retryTimer = setTimeout(() => {
        if (this.latest === desired) {
          this.latest = { ...desired };
          this.working ??= this.converge().finally(() => {
            this.working = undefined;
          });
        }
      }, delay);
      this.retryTimer.unref();
    }
  }

  private async install(want: PackageRef): Promise<InstalledModel> {
    const dir = join(this.root, want.name, want.version);
    const pkg = join(this.root, 'packages', `${want.name}-${want.version}.vpkg`);
    this.report('downloading', want);
    await downloadPackage({
      url: want.url,
      dest: pkg,
      sha256: want.sha256,
      sizeBytes: want.sizeBytes,
      http: this.o.http,
    });
    this.report('verifying', want);
    if (this.o.trustedKeys.size === 0) {
      throw new VigilError('VIGIL_MODEL_SIGNATURE_INVALID', 'no trusted model-signing keys are configured (model.trustedKeys)');
    }
    verifyPackageSignature(want, want, this.o.trustedKeys);
    rmSync(dir, { recursive: true, force: true });
    await unpackModel(pkg, dir);
    const installed = await this.load(dir);
    if (!same(installed.ref, want)) {
      await installed.model.close();
      throw new VigilError(
        'VIGIL_MODEL_INVALID',
        `package manifest says ${installed.ref.name} ${installed.ref.version}, the signed reference says ${want.name} ${want.version}`,
      );
    }
    this.report('self-testing', want);
    try {
      await (this.o.selfTest ?? runSelfTest)(installed.model, dir);
    } catch (error) {
      await installed.model.close();
      throw error;
    }
    return installed;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.settled();
    for (const m of [this.active, this.previous, this.shadow]) await m?.model.close();
  }
}
