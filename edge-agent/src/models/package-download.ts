import { createHash } from 'node:crypto';
import { createReadStream, existsSync, renameSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { VigilError } from '@vigil/shared';
import type { DeviceHttp } from '../identity/device-http.js';

export interface DownloadOptions {
  url: string;
  dest: string;
  sha256: string;
  sizeBytes: number;
  /** Device credentials (certificate or password): the hub serves packages only to registered devices. */
  http: DeviceHttp;
  /** Called with bytes received so far (progress reports). */
  onProgress?: (received: number, total: number) => void;
  signal?: AbortSignal;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Downloads a package to `dest`, resuming a partial `dest.part` with an HTTP Range request, then
 * checks size and SHA-256 before renaming it into place. A mismatch deletes nothing silently: the
 * partial file is discarded and the error says why.
 */
export async function downloadPackage(o: DownloadOptions): Promise<void> {
  if (existsSync(o.dest) && statSync(o.dest).size === o.sizeBytes && (await hashFile(o.dest)) === o.sha256) return;
  const part = `${o.dest}.part`;
  let have = existsSync(part) ? statSync(part).size : 0;
  if (have > o.sizeBytes) have = 0;
  const headers: Record<string, string> = {};
  if (have > 0 && have < o.sizeBytes) headers.range = `bytes=${have}-`;
  let response: Response;
  try {
    response = await o.http.fetch(o.url, { headers, ...(o.signal ? { signal: o.signal } : {}) });
  } catch (error) {
    throw new VigilError('VIGIL_MODEL_DOWNLOAD_FAILED', `cannot reach ${o.url}: ${(error as Error).message}`);
  }
  if (response.status !== 200 && response.status !== 206) {
    throw new VigilError('VIGIL_MODEL_DOWNLOAD_FAILED', `${o.url} answered HTTP ${response.status}`);
  }
  const resume = response.status === 206 && have > 0;
  const file = await open(part, resume ? 'a' : 'w');
  let received = resume ? have : 0;
  try {
    if (response.body) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        await file.write(chunk);
        received += chunk.byteLength;
        o.onProgress?.(received, o.sizeBytes);
        if (received > o.sizeBytes) break;
      }
    }
    await file.sync();
  } catch (error) {
    throw new VigilError(
      'VIGIL_MODEL_DOWNLOAD_FAILED',
      `download of ${o.url} interrupted at ${received} bytes: ${(error as Error).message}`,
    );
  } finally {
    await file.close();
  }
  const size = statSync(part).size;
  if (size !== o.sizeBytes) {
    if (size > o.sizeBytes) renameSync(part, `${part}.discarded`);
    throw new VigilError('VIGIL_MODEL_DOWNLOAD_FAILED', `package is ${size} bytes, expected ${o.sizeBytes}`);
  }
  const sha256 = await hashFile(part);
  if (sha256 !== o.sha256) {
    renameSync(part, `${part}.discarded`);
    throw new VigilError('VIGIL_MODEL_INVALID', `package SHA-256 is ${sha256}, the hub announced ${o.sha256}: refused`);
  }
  renameSync(part, o.dest);
}
