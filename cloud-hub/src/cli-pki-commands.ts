import { VigilError } from '@vigil/shared';
import type { Command } from 'commander';
import { DeviceRegistry } from './broker/device-registry.js';
import { actor, withState } from './cli-user-commands.js';
import { loadHubConfig, pkiDir } from './config.js';
import { DeviceCa, initDeviceCa } from './pki/device-ca.js';
import { EnrolmentService } from './pki/enrolment-service.js';

type ConfigOption = readonly [string, string, string | undefined];

const cliActor = () => ({ actor: actor(), actorRole: 'admin', ip: 'local' });

/** `vigil-hub ca …` and the certificate parts of `vigil-hub device …`. */
export function addPkiCommands(program: Command, device: Command, configOption: ConfigOption, fail: (e: unknown) => never): void {
  const service = (config: ReturnType<typeof loadHubConfig>, state: Parameters<Parameters<typeof withState>[1]>[0]) =>
    new EnrolmentService({
      store: state.pki,
      registry: new DeviceRegistry(state),
      audit: state.audit,
      ca: undefined,
      certValidityS: config.pki.certValidityS,
      tokenTtlS: config.pki.enrolTokenTtlS,
    });

  const ca = program.command('ca').description("the hub's device certificate authority");
  ca.command('init')
    .description('create the device CA (ECDSA P-256; key 0600) in pki.dir; once per installation')
    .option(...configOption)
    .option('--name <cn>', 'the CA certificate common name', 'Vigil device CA')
    .option('--days <n>', 'CA certificate lifetime in days', '3650')
    .action(async (options: { config?: string; name: string; days: string }) => {
      try {
        const config = loadHubConfig(options.config);
        const created = await initDeviceCa(pkiDir(config), { name: options.name, validityDays: Number(options.days) });
        await withState(options.config, (state) =>
          state.audit.append({
            ...cliActor(),
            action: 'ca.init',
            targetType: 'ca',
            targetId: created.fingerprint.slice(0, 64),
            outcome: 'success',
            details: { certFile: created.certFile },
          }),
        );
        process.stdout.write(`${JSON.stringify(created)}\n`);
      } catch (error) {
        fail(error);
      }
    });

  device
    .command('enrol-token <clinicId> <deviceId>')
    .description('a one-time, short-lived token with which the device enrols its own key (registers the device if new)')
    .option(...configOption)
    .option('--ttl <seconds>', 'token lifetime (default pki.enrolTokenTtlS)')
    .action(async (clinicId: string, deviceId: string, options: { config?: string; ttl?: string }) => {
      try {
        const config = loadHubConfig(options.config);
        if (!DeviceCa.exists(pkiDir(config))) {
          throw new VigilError('VIGIL_CA_MISSING', `no device CA in ${pkiDir(config)}: run vigil-hub ca init first`);
        }
        const issued = await withState(options.config, (state) =>
          service(config, state).createToken(
            { clinicId, deviceId },
            cliActor(),
            options.ttl ? Number(options.ttl) : config.pki.enrolTokenTtlS,
          ),
        );
        process.stdout.write(`${JSON.stringify({ clinicId, deviceId, ...issued })}\n`);
      } catch (error) {
        fail(error);
      }
    });

  device
    .command('certificates [deviceId]')
    .description('certificates the device CA issued (all devices, or one)')
    .option(...configOption)
    .action(async (deviceId: string | undefined, options: { config?: string }) => {
      try {
        const config = loadHubConfig(options.config);
        const list = await withState(options.config, (state) => service(config, state).certificates(deviceId));
        for (const c of list) process.stdout.write(`${JSON.stringify(c)}\n`);
      } catch (error) {
        fail(error);
      }
    });

  device
    .command('revoke <deviceId>')
    .description('revoke a device and every certificate it holds; a running hub drops its connection within seconds')
    .option(...configOption)
    .action(async (deviceId: string, options: { config?: string }) => {
      try {
        const config = loadHubConfig(options.config);
        const revoked = await withState(options.config, (state) => service(config, state).revoke(deviceId, cliActor()));
        process.stdout.write(`${JSON.stringify({ deviceId, revoked: true, ...revoked })}\n`);
      } catch (error) {
        fail(error);
      }
    });
}
