import { join } from 'node:path';
import type { Command } from 'commander';
import { writeNewKeyFile } from './at-rest/at-rest-keys.js';
import { atRestFromConfig, atRestInventory } from './at-rest/at-rest-setup.js';
import { loadEdgeConfig } from './config.js';
import { Outbox } from './outbox/outbox.js';

/** `vigil-edge at-rest …`: keys for encryption at rest, and what each key still has to open. */
export function addAtRestCommands(program: Command, fail: (error: unknown) => void): void {
  const atRest = program
    .command('at-rest')
    .description('encryption at rest of the spool, quarantine, overlays, images kept for viewers and outbox');
  atRest
    .command('new-key <file>')
    .description('write a new random AES-256 key (base64, mode 0600); refuses to overwrite')
    .action((file: string) => {
      try {
        writeNewKeyFile(file);
        process.stdout.write(`${JSON.stringify({ keyFile: file })}\n`);
      } catch (error) {
        fail(error);
      }
    });
  atRest
    .command('status')
    .description('records per key id on disk: a retired key can go once nothing needs it (stop the agent first)')
    .option('-c, --config <file>', 'YAML config (dataDir, storage.encryption)', process.env.VIGIL_CONFIG)
    .action(async (options: { config?: string }) => {
      try {
        const config = loadEdgeConfig(options.config);
        const cipher = atRestFromConfig(config);
        const outbox = new Outbox({ path: join(config.dataDir, 'outbox.sqlite'), maxBytes: config.outbox.maxBytes });
        try {
          const inventory = await atRestInventory(config.dataDir, outbox);
          process.stdout.write(
            `${JSON.stringify({ enabled: cipher.enabled, currentKey: cipher.keyIds[0] ?? null, keys: cipher.keyIds, onDisk: inventory })}\n`,
          );
        } finally {
          outbox.close();
        }
      } catch (error) {
        fail(error);
      }
    });
}
