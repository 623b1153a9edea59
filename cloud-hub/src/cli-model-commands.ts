import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey, type PackageSignature, signPackage, VigilError } from '@vigil/shared';
import type { Command } from 'commander';
import { loadHubConfig } from './config.js';
import { openModelRegistry } from './hub.js';
import { openConfiguredState } from './storage/configured-stores.js';

type ConfigOption = readonly [string, string, string | undefined];

function out(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** name and version from the package's manifest.json, read without unpacking to disk. */
async function packageIdentity(path: string): Promise<{ name: string; version: string }> {
  const tar = await import('tar');
  let manifest: { name?: string; version?: string } | undefined;
  await tar.t({
    file: path,
    onReadEntry: (entry) => {
      if (entry.path !== 'manifest.json') {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => {
        manifest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof manifest;
      });
    },
  });
  if (!manifest?.name || !manifest.version)
    throw new VigilError('VIGIL_MODEL_INVALID', `${path} has no manifest.json with name and version`);
  return { name: manifest.name, version: manifest.version };
}

async function apiCall(options: { url: string; token?: string }, method: string, path: string, body?: unknown): Promise<unknown> {
  const token = options.token ?? process.env.VIGIL_HUB_TOKEN;
  if (!token)
    throw new VigilError('VIGIL_AUTH_REQUIRED', 'pass --token or set VIGIL_HUB_TOKEN (an API token of an ops or admin user)');
  const response = await fetch(`${options.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const data = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!response.ok) {
    throw new VigilError(
      (data.error?.code as 'VIGIL_ROLLOUT_INVALID') ?? 'VIGIL_INTERNAL',
      data.error?.message ?? `HTTP ${response.status}`,
    );
  }
  return data;
}

/** `vigil-hub model keygen|sign|publish|list` and `vigil-hub rollout start|status|pause|resume|abort|rollback`. */
export function addModelCommands(program: Command, configOption: ConfigOption, fail: (e: unknown) => never): void {
  const model = program.command('model').description('sign and publish model packages');
  model
    .command('keygen')
    .description('create an ed25519 signing key pair (private key mode 0600)')
    .requiredOption('--out <dir>', 'directory for signing-key.pem and signing-key.pub.pem')
    .action((options: { out: string }) => {
      try {
        mkdirSync(options.out, { recursive: true, mode: 0o700 });
        const priv = join(options.out, 'signing-key.pem');
        if (existsSync(priv)) throw new VigilError('VIGIL_CONFIG_INVALID', `${priv} exists: refusing to overwrite a signing key`);
        const key = generateSigningKey();
        writeFileSync(priv, key.privateKeyPem, { mode: 0o600 });
        chmodSync(priv, 0o600);
        writeFileSync(join(options.out, 'signing-key.pub.pem'), key.publicKeyPem, { mode: 0o644 });
        out({ keyId: key.keyId, privateKey: priv, publicKey: join(options.out, 'signing-key.pub.pem') });
      } catch (error) {
        fail(error);
      }
    });
  model
    .command('sign <package>')
    .description('sign a package (from `vigil-edge model pack`); writes PACKAGE.sig.json')
    .requiredOption('--key <file>', 'ed25519 private key (PEM)')
    .action(async (pkg: string, options: { key: string }) => {
      try {
        const mode = statSync(options.key).mode & 0o077;
        if (mode !== 0) throw new VigilError('VIGIL_CONFIG_INVALID', `${options.key} is readable by others: chmod 600 it`);
        const identity = await packageIdentity(pkg);
        const signature = signPackage(
          { ...identity, sha256: createHash('sha256').update(readFileSync(pkg)).digest('hex'), sizeBytes: statSync(pkg).size },
          readFileSync(options.key, 'utf8'),
        );
        writeFileSync(`${pkg}.sig.json`, `${JSON.stringify(signature, null, 2)}\n`);
        out(signature);
      } catch (error) {
        fail(error);
      }
    });
  model
    .command('publish <package>')
    .description('add a signed package to the registry (verified against models.trustedKeys)')
    .option(...configOption)
    .option('--signature <file>', 'detached signature (default PACKAGE.sig.json)')
    .action(async (pkg: string, options: { config?: string; signature?: string }) => {
      try {
        const config = loadHubConfig(options.config);
        const state = await openConfiguredState(config);
        try {
          const registry = openModelRegistry(config, state, () => config.models.publicUrl);
          const signature = JSON.parse(readFileSync(options.signature ?? `${pkg}.sig.json`, 'utf8')) as PackageSignature;
          const actor = `cli:${userInfo().username}`;
          const record = await registry.publish(pkg, signature, actor);
          await state.audit.append({
            actor,
            actorRole: 'admin',
            action: 'model.publish',
            targetType: 'model',
            targetId: `${record.name}@${record.version}`,
            outcome: 'success',
            details: { sha256: record.sha256, keyId: record.keyId },
            ip: 'local',
          });
          out(record);
        } finally {
          await state.close();
        }
      } catch (error) {
        fail(error);
      }
    });
  model
    .command('list')
    .option(...configOption)
    .action(async (options: { config?: string }) => {
      try {
        const state = await openConfiguredState(loadHubConfig(options.config));
        try {
          for (const p of await state.rollouts.listPackages()) out(p);
        } finally {
          await state.close();
        }
      } catch (error) {
        fail(error);
      }
    });

  const rollout = program.command('rollout').description('roll a published model out to the fleet (through the hub API)');
  const api = ['--url <url>', "the hub's HTTP address", process.env.VIGIL_HUB_URL ?? 'http://127.0.0.1:8080'] as const;
  const token = ['--token <token>', 'API token of an ops or admin user (or VIGIL_HUB_TOKEN)'] as const;
  rollout
    .command('start <name> <version>')
    .option(...api)
    .option(...token)
    .option('--waves <list>', 'cumulative wave sizes', '1,10%,50%,100%')
    .option('--bake <seconds>', 'bake time per wave', '300')
    .option('--clinic <id...>', 'only these clinics')
    .option('--tag <tag...>', 'only devices with one of these tags')
    .option('--shadow', 'run the model in shadow mode beside the active one')
    .option('--on-trip <action>', 'pause or rollback when a gate trips', 'rollback')
    .option('--max-psi <n>', 'score-drift gate (population stability index)')
    .option('--min-samples <n>', 'results needed before drift and latency gates pass')
    .option(
      '--min-verdicts <n>',
      'shadow mode: images clinicians reviewed before the verdict-agreement gate passes (0: never holds)',
    )
    .action(
      async (
        name: string,
        version: string,
        o: {
          url: string;
          token?: string;
          waves: string;
          bake: string;
          clinic?: string[];
          tag?: string[];
          shadow?: boolean;
          onTrip: string;
          maxPsi?: string;
          minSamples?: string;
          minVerdicts?: string;
        },
      ) => {
        try {
          out(
            await apiCall(o, 'POST', '/rollouts', {
              model: { name, version },
              mode: o.shadow ? 'shadow' : 'active',
              waves: o.waves,
              bakeS: Number(o.bake),
              onTrip: o.onTrip,
              cohort: { clinics: o.clinic ?? [], tags: o.tag ?? [] },
              gates: {
                ...(o.maxPsi ? { maxPsi: Number(o.maxPsi) } : {}),
                ...(o.minSamples ? { minSamples: Number(o.minSamples) } : {}),
                ...(o.minVerdicts ? { minVerdicts: Number(o.minVerdicts) } : {}),
              },
            }),
          );
        } catch (error) {
          fail(error);
        }
      },
    );
  rollout
    .command('status [rolloutId]')
    .description('one rollout with its devices, or all rollouts')
    .option(...api)
    .option(...token)
    .action(async (id: string | undefined, o: { url: string; token?: string }) => {
      try {
        out(await apiCall(o, 'GET', id ? `/rollouts/${encodeURIComponent(id)}` : '/rollouts'));
      } catch (error) {
        fail(error);
      }
    });
  for (const action of ['pause', 'resume', 'abort', 'rollback'] as const) {
    rollout
      .command(`${action} <rolloutId>`)
      .option(...api)
      .option(...token)
      .action(async (id: string, o: { url: string; token?: string }) => {
        try {
          out(await apiCall(o, 'POST', `/rollouts/${encodeURIComponent(id)}/${action}`, {}));
        } catch (error) {
          fail(error);
        }
      });
  }
}
