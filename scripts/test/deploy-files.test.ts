// The deployment files in deploy/: systemd units verified by systemd-analyze against the layout a
// release install gives (/opt/vigil/node_modules/.bin/…); container, compose and Kubernetes files
// checked for what their design promises (no registry is reachable here to build images).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { loadHubConfig } from '@vigil/cloud-hub';
import { loadEdgeConfig } from '@vigil/edge-agent';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { makeTempDir } from '../harness/temp-dir.js';

const run = promisify(execFile);
const DEPLOY = join(import.meta.dirname, '../../deploy');

test('systemd units verify clean (systemd-analyze verify) and run the compiled release', async () => {
  const root = makeTempDir('systemd-root');
  try {
    // A root with the system's own units, the release's bins where an install puts them, and ours.
    cpSync('/usr/lib/systemd/system', join(root.path, 'usr/lib/systemd/system'), { recursive: true });
    const bin = join(root.path, 'opt/vigil/node_modules/.bin');
    mkdirSync(bin, { recursive: true });
    for (const name of ['vigil-hub', 'vigil-edge']) {
      writeFileSync(join(bin, name), '#!/bin/sh\n');
      chmodSync(join(bin, name), 0o755);
    }
    const units = join(root.path, 'etc/systemd/system');
    mkdirSync(units, { recursive: true });
    for (const unit of ['vigil-hub.service', 'vigil-edge.service']) {
      const text = readFileSync(join(DEPLOY, 'systemd', unit), 'utf8');
      assert.match(
        text,
        /^ExecStart=\/opt\/vigil\/node_modules\/\.bin\/vigil-(hub|edge) serve/m,
        `${unit} runs the compiled bin`,
      );
      assert.doesNotMatch(text, /tsx|\.mjs|\.ts\b/, `${unit} needs no TypeScript loader`);
      assert.match(text, /^NoNewPrivileges=true$/m);
      assert.match(text, /^ProtectSystem=strict$/m);
      cpSync(join(DEPLOY, 'systemd', unit), join(units, unit));
    }
    const { stdout, stderr } = await run(
      'systemd-analyze',
      ['verify', `--root=${root.path}`, 'vigil-hub.service', 'vigil-edge.service'],
      {
        cwd: root.path,
      },
    );
    // systemd-analyze exits 0 on values it ignores; any word it says is a finding.
    assert.equal(`${stdout}${stderr}`.trim(), '', 'systemd-analyze has nothing to say');
  } finally {
    root.remove();
  }
});

test('container files: multi-stage from the release tarballs, non-root, health-checked', () => {
  for (const name of ['Containerfile.hub', 'Containerfile.edge']) {
    const text = readFileSync(join(DEPLOY, 'container', name), 'utf8');
    const stages = text.match(/^FROM /gm) ?? [];
    assert.ok(stages.length >= 2, `${name} is multi-stage`);
    assert.match(text, /npm install --omit=dev/, `${name} installs the release without dev dependencies`);
    assert.match(text, /^USER vigil$/m, `${name} runs as a non-root user`);
    assert.match(text, /^HEALTHCHECK /m, `${name} has a health check`);
    assert.doesNotMatch(text, /tsx|\.ts\b/, `${name} ships no TypeScript`);
  }
});

test('compose: hub + PostgreSQL + InfluxDB + Mosquitto, read-only hub, secrets from files', () => {
  const compose = parseYaml(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8')) as {
    services: Record<string, { read_only?: boolean; secrets?: unknown[]; environment?: Record<string, string>; user?: string }>;
    secrets: Record<string, { file: string }>;
  };
  for (const service of ['hub', 'postgres', 'influxdb', 'mosquitto']) assert.ok(compose.services[service], service);
  const hub = compose.services.hub as NonNullable<(typeof compose.services)['hub']>;
  assert.equal(hub.read_only, true);
  assert.equal(hub.user, 'vigil');
  for (const [key, value] of Object.entries(hub.environment ?? {})) {
    assert.doesNotMatch(key, /PASSWORD$|SECRET$|TOKEN$/, `${key}: secrets come from files (…_FILE), not the environment`);
    assert.doesNotMatch(String(value), /:[^@/]+@/, `${key} carries no password in a URL`);
  }
  assert.ok(
    Object.values(compose.secrets).every((s) => typeof s.file === 'string'),
    'secrets are files',
  );
});

test('Kubernetes: hub replicas with /healthz and /readyz probes, read-only root, secrets mounted as files', () => {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes/hub.yaml'), 'utf8')).map((d) => d.toJS()) as Array<{
    kind: string;
    spec: Record<string, unknown>;
  }>;
  interface Probe {
    httpGet: { path: string };
  }
  interface Container {
    readinessProbe: Probe;
    livenessProbe: Probe;
    securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
    env: Array<{ name: string; value?: string }>;
  }
  const deployment = docs.find((d) => d.kind === 'Deployment') as unknown as {
    spec: {
      replicas: number;
      template: { spec: { containers: Container[]; volumes: Array<{ name: string; secret?: object }> } };
    };
  };
  assert.ok(deployment.spec.replicas >= 2, 'replicas');
  const [hub] = deployment.spec.template.spec.containers;
  assert.equal(hub?.readinessProbe.httpGet.path, '/readyz');
  assert.equal(hub?.livenessProbe.httpGet.path, '/healthz');
  assert.equal(hub?.securityContext.readOnlyRootFilesystem, true);
  assert.equal(hub?.securityContext.allowPrivilegeEscalation, false);
  const secretVolumes = deployment.spec.template.spec.volumes.filter((v) => v.secret).map((v) => v.name);
  assert.deepEqual(secretVolumes.sort(), ['pki', 'postgres', 'tls']);
  assert.ok(hub, 'the hub container');
  assert.ok(
    hub.env.every((e) => !/PASSWORD$|SECRET$/.test(e.name)),
    'no secret in an environment variable',
  );
  assert.ok(docs.some((d) => d.kind === 'PodDisruptionBudget'));
});

test('the annotated production configs load with the hub and edge config schemas', () => {
  const hub = loadHubConfig(join(DEPLOY, 'config/hub.yaml'), {});
  assert.equal(hub.http.tls.enabled, true);
  assert.equal(hub.pki.dir, '/etc/vigil/pki');
  const edge = loadEdgeConfig(join(DEPLOY, 'config/edge.yaml'), {});
  assert.equal(edge.storage.encryption.enabled, true);
  assert.ok(edge.identity.enrolmentTokenFile && edge.hubUrl.startsWith('https://'));
});
