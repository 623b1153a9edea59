import { createLogger, keepRunningOnUnhandledRejection, VigilError } from '@vigil/shared';
import { Command } from 'commander';
import { DeviceRegistry } from './broker/device-registry.js';
import { mosquittoAclFile } from './broker/mosquitto-acl.js';
import { addModelCommands } from './cli-model-commands.js';
import { addPkiCommands } from './cli-pki-commands.js';
import { addStateCommands } from './cli-state-commands.js';
import { addUserCommands } from './cli-user-commands.js';
import { addVerdictCommands } from './cli-verdict-commands.js';
import { loadHubConfig } from './config.js';
import { Hub } from './hub.js';
import { openConfiguredState } from './storage/configured-stores.js';
import { HUB_VERSION } from './version.js';

function fail(error: unknown): never {
  const code = error instanceof VigilError ? error.code : 'VIGIL_INTERNAL';
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`vigil-hub: ${code}: ${message}\n`);
  process.exit(error instanceof VigilError ? 2 : 1);
}

async function withRegistry<T>(configFile: string | undefined, fn: (registry: DeviceRegistry) => Promise<T>): Promise<T> {
  const state = await openConfiguredState(loadHubConfig(configFile));
  try {
    return await fn(new DeviceRegistry(state));
  } finally {
    await state.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('vigil-hub').version(HUB_VERSION).description('Vigil cloud hub');
  const configOption = [
    '-c, --config <file>',
    'YAML config file (VIGIL_… variables override it)',
    process.env.VIGIL_CONFIG,
  ] as const;

  program
    .command('serve')
    .description('run the hub: broker, ingest, stores, HTTP')
    .option(...configOption)
    .action(async (options: { config?: string }) => {
      let hub: Hub;
      try {
        const logger = createLogger('vigil-hub');
        keepRunningOnUnhandledRejection(logger);
        hub = new Hub(loadHubConfig(options.config), { logger });
        await hub.start();
      } catch (error) {
        fail(error);
      }
      const shutdown = () => {
        hub.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });

  const device = program.command('device').description('manage device credentials');
  device
    .command('add <clinicId> <deviceId>')
    .description('register a device; prints its password once (only an argon2id hash is kept)')
    .option(...configOption)
    .option('--password <password>', 'use this password instead of a generated one (min. 12 characters)')
    .option('--tag <tag...>', 'cohort tags, e.g. --tag site-north gpu-a10')
    .action(async (clinicId: string, deviceId: string, options: { config?: string; password?: string; tag?: string[] }) => {
      try {
        const added = await withRegistry(options.config, (r) =>
          r.add({ clinicId, deviceId }, { ...(options.password ? { password: options.password } : {}), tags: options.tag ?? [] }),
        );
        process.stdout.write(`${JSON.stringify({ clinicId, deviceId, username: deviceId, password: added.password })}\n`);
      } catch (error) {
        fail(error);
      }
    });
  device
    .command('list')
    .option(...configOption)
    .option('--json', 'one JSON object per line')
    .action(async (options: { config?: string; json?: boolean }) => {
      try {
        const devices = await withRegistry(options.config, (r) => r.list());
        for (const d of devices) {
          const row = {
            clinicId: d.clinicId,
            deviceId: d.deviceId,
            tags: d.tags,
            createdAt: d.createdAt,
            revokedAt: d.revokedAt,
          };
          process.stdout.write(
            options.json
              ? `${JSON.stringify(row)}\n`
              : `${d.clinicId}\t${d.deviceId}\t${d.revokedAt ? `revoked ${d.revokedAt}` : 'active'}\t${d.tags.join(',')}\n`,
          );
        }
      } catch (error) {
        fail(error);
      }
    });
  addPkiCommands(program, device, configOption, fail);
  device
    .command('mosquitto-acl')
    .description('print a Mosquitto acl_file with the same per-device topic ACL (external-broker mode)')
    .option(...configOption)
    .option('--hub-user <name>', 'the hub’s own broker username', 'vigil-hub')
    .action(async (options: { config?: string; hubUser: string }) => {
      try {
        const devices = await withRegistry(options.config, (r) => r.list());
        process.stdout.write(mosquittoAclFile(devices, options.hubUser));
      } catch (error) {
        fail(error);
      }
    });

  addUserCommands(program, configOption, fail);
  addVerdictCommands(program, configOption, fail);
  addModelCommands(program, configOption, fail);
  addStateCommands(program, configOption, fail);

  await program.parseAsync(argv);
}
