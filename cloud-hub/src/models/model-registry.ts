import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, createReadStream, fsyncSync, mkdirSync, openSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertSchema,
  type ModelDesiredMessage,
  ModelRef,
  type PackageSignature,
  type TrustedKeys,
  VigilError,
  verifyPackageSignature,
} from '@vigil/shared';
import type { ModelPackageRecord, RolloutStore } from '../rollout/rollout-store.js';

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Signed model packages the hub can hand to devices. Only a package whose bytes match its signed
 * statement, signed by a key the hub trusts, gets in; edges verify again with their own keys.
 */
export class ModelRegistry {
  constructor(
    private readonly store: RolloutStore,
    readonly dir: string,
    private readonly keys: TrustedKeys,
    /** Base URL devices download from, e.g. https://hub.example:8080 */
    private readonly publicUrl: () => string,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
  }

  async publish(packagePath: string, signature: PackageSignature, actor: string): Promise<ModelPackageRecord> {
    // Name and version become a file name here and a directory on every edge.
    try {
      assertSchema(ModelRef, { name: signature.name, version: signature.version }, 'package');
    } catch {
      throw new VigilError(
        'VIGIL_MODEL_INVALID',
        `package name "${signature.name}" or version "${signature.version}" is not valid`,
      );
    }
    const size = statSync(packagePath).size;
    const sha256 = await sha256Of(packagePath);
    if (size !== signature.sizeBytes || sha256 !== signature.sha256) {
      throw new VigilError(
        'VIGIL_MODEL_SIGNATURE_INVALID',
        `package bytes (${size} B, ${sha256.slice(0, 12)}…) differ from the signed statement (${signature.sizeBytes} B, ${signature.sha256.slice(0, 12)}…)`,
      );
    }
    if (this.keys.size === 0) {
      throw new VigilError('VIGIL_MODEL_SIGNATURE_INVALID', 'the hub trusts no model-signing key (models.trustedKeys)');
    }
    verifyPackageSignature(signature, signature, this.keys);
    const file = `${signature.name}-${signature.version}.vpkg`;
    const tmp = join(this.dir, `.${file}.tmp`);
    copyFileSync(packagePath, tmp);
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, join(this.dir, file));
    const record: ModelPackageRecord = {
      name: signature.name,
      version: signature.version,
      sha256,
      sizeBytes: size,
      keyId: signature.keyId,
      signature: signature.signature,
      file,
      publishedBy: actor,
      publishedAt: new Date().toISOString(),
    };
    await this.store.addPackage(record);
    return record;
  }

  async require(name: string, version: string): Promise<ModelPackageRecord> {
    const record = await this.store.getPackage(name, version);
    if (!record) throw new VigilError('VIGIL_MODEL_UNKNOWN', `no model package ${name} ${version} in the registry`);
    return record;
  }

  path(record: ModelPackageRecord): string {
    return join(this.dir, record.file);
  }

  /** The reference a desired-model message carries: where to fetch it and what it must hash and verify to. */
  ref(record: ModelPackageRecord): ModelDesiredMessage['active'] {
    return {
      name: record.name,
      version: record.version,
      sha256: record.sha256,
      sizeBytes: record.sizeBytes,
      url: `${this.publicUrl()}/api/v1/packages/${encodeURIComponent(record.name)}/${encodeURIComponent(record.version)}`,
      signature: record.signature,
      keyId: record.keyId,
    };
  }
}
