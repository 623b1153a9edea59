import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VigilError } from '@vigil/shared';
import type { EdgeConfig } from '../config.js';
import { type AtRest, AtRestCipher, PLAINTEXT, sealedFileKeyId } from './at-rest-cipher.js';
import { fileAtRestKeys } from './at-rest-keys.js';

/** The edge's at-rest cipher from its config (PLAINTEXT when storage.encryption is off). */
export function atRestFromConfig(config: EdgeConfig): AtRest {
  const e = config.storage.encryption;
  if (!e.enabled) return PLAINTEXT;
  const { current, retired } = fileAtRestKeys(e.keyFile, e.retiredKeyFiles).keys();
  return new AtRestCipher(current, retired);
}

/** Where encrypted things live under a data directory. */
export const atRestFolders = (dataDir: string) => ({
  files: [join(dataDir, 'spool', 'ready'), join(dataDir, 'quarantine'), join(dataDir, 'overlays'), join(dataDir, 'images')],
  suffixes: ['.dcm', '.png', '.px'],
});

/** Files per key id that wrote them ('plaintext' for unencrypted ones) in the given folders. */
async function fileKeyInventory(dirs: readonly string[], suffixes: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.filter((n) => suffixes.some((s) => n.endsWith(s)))) {
      // A file that cannot be opened (the pipeline removed it meanwhile) has nothing left to protect.
      const id = await sealedFileKeyId(join(dir, name)).catch((error: NodeJS.ErrnoException) => {
        if (error.syscall === 'open') return null;
        throw error;
      });
      if (id === null) continue;
      const key = id ?? 'plaintext';
      out.set(key, (out.get(key) ?? 0) + 1);
    }
  }
  return out;
}

/** Records per key id (and 'plaintext') over spool, quarantine, overlays, images kept for viewers and the outbox. */
export async function atRestInventory(
  dataDir: string,
  outbox: { keyInventory(): Map<string, number> },
): Promise<Record<string, { files: number; outbox: number }>> {
  const folders = atRestFolders(dataDir);
  const files = await fileKeyInventory(folders.files, folders.suffixes);
  const records = outbox.keyInventory();
  const out: Record<string, { files: number; outbox: number }> = {};
  for (const id of new Set([...files.keys(), ...records.keys()])) {
    out[id] = { files: files.get(id) ?? 0, outbox: records.get(id) ?? 0 };
  }
  return out;
}

/**
 * At start: everything already on disk must be readable with the keys configured now. A key file
 * that was replaced or a retired key dropped too early is a coded error here, not an unreadable
 * image discovered later.
 */
export async function checkAtRestKeys(
  dataDir: string,
  atRest: AtRest,
  outbox: { keyInventory(): Map<string, number> },
): Promise<void> {
  const inventory = await atRestInventory(dataDir, outbox);
  const unknown = Object.entries(inventory).filter(([id]) => id !== 'plaintext' && !atRest.keyIds.includes(id));
  if (unknown.length === 0) return;
  const what = unknown.map(([id, n]) => `${id} (${n.files} files, ${n.outbox} outbox records)`).join(', ');
  throw new VigilError(
    'VIGIL_AT_REST_KEY_INVALID',
    atRest.enabled
      ? `data on disk was written with keys this edge does not have: ${what}; configured: ${atRest.keyIds.join(', ')}`
      : `data on disk is encrypted (${what}) but storage.encryption is off`,
  );
}
