import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { loadConfig, publicKeyPems, resolveSecret, VigilError } from '@vigil/shared';
import { DEFAULT_CATEGORY_POLICY } from './followup/category.js';
import { DEFAULT_OVERDUE_POLICY } from './followup/overdue.js';
import { DEFAULT_CHANGE_POLICY as CHANGE } from './followup/rules/change-policy.js';
import { DEFAULT_TIMELINE_POLICY } from './followup/timeline.js';

const Port = (port: number) => Type.Integer({ minimum: 0, maximum: 65535, default: port });

export const HubConfigSchema = Type.Object(
  {
    /** State, history and buffers live here unless a path below says otherwise. */
    dataDir: Type.String({ minLength: 1, default: '.vigil/hub' }),
    http: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Port(8080),
        tls: Type.Object(
          {
            enabled: Type.Boolean({ default: false }),
            keyFile: Type.String({ default: '' }),
            certFile: Type.String({ default: '' }),
          },
          { additionalProperties: false, default: {} },
        ),
        /** Behind a reverse proxy, trust X-Forwarded-For for client addresses (rate limits, audit). */
        trustProxy: Type.Boolean({ default: false }),
        rateLimitPerMinute: Type.Integer({ minimum: 1, default: 1200 }),
      },
      { additionalProperties: false, default: {} },
    ),
    pki: Type.Object(
      {
        /** The device CA (ca.key 0600, ca.pem), made by `vigil-hub ca init`; empty: {dataDir}/pki. Replicas mount the same files. */
        dir: Type.String({ default: '' }),
        /** Lifetime of device certificates; devices renew at two thirds of it (edge identity.renewAt). */
        certValidityS: Type.Integer({ minimum: 10, maximum: 397 * 86_400, default: 30 * 86_400 }),
        /** Default lifetime of one-time enrolment tokens (`vigil-hub device enrol-token --ttl`). */
        enrolTokenTtlS: Type.Integer({ minimum: 10, maximum: 30 * 86_400, default: 3600 }),
        /** Enrolment requests per minute per address. */
        enrolRateLimitPerMinute: Type.Integer({ minimum: 1, default: 30 }),
        /** How often the hub drops live connections of devices revoked since (by the CLI or another replica). */
        revocationCheckS: Type.Number({ minimum: 0.2, maximum: 300, default: 5 }),
      },
      { additionalProperties: false, default: {} },
    ),
    reid: Type.Object(
      {
        /**
         * The Ed25519 key that signs clinicians' re-identification tokens (PEM, 0600); empty: one is
         * made in {dataDir}/reid-signing-key.pem with its public half beside it, for the edges.
         */
        signingKeyFile: Type.String({ default: '' }),
        /** How long a token lets a browser ask a clinic's edge for names. */
        tokenTtlS: Type.Integer({ minimum: 10, maximum: 3600, default: 60 }),
        /**
         * Origins of the clinics' re-identification endpoints the dashboard may call (its
         * Content-Security-Policy connect-src), e.g. https://edge-north.hospital.lan:8444.
         */
        edgeOrigins: Type.Array(Type.String({ pattern: '^https?://' }), { default: [] }),
      },
      { additionalProperties: false, default: {} },
    ),
    auth: Type.Object(
      {
        sessionHours: Type.Number({ exclusiveMinimum: 0, maximum: 168, default: 12 }),
        idleMinutes: Type.Number({ exclusiveMinimum: 0, default: 30 }),
        lockoutThreshold: Type.Integer({ minimum: 1, default: 5 }),
        lockoutMinutes: Type.Number({ exclusiveMinimum: 0, default: 15 }),
        loginRateLimitPerMinute: Type.Integer({ minimum: 1, default: 10 }),
        issuer: Type.String({ minLength: 1, default: 'Vigil' }),
      },
      { additionalProperties: false, default: {} },
    ),
    followup: Type.Object(
      {
        growthMinMm: Type.Number({ minimum: 0, default: CHANGE.growthMinMm }),
        growthMinPercent: Type.Number({ minimum: 0, default: CHANGE.growthMinPercent }),
        newFindingMinScore: Type.Number({ minimum: 0, maximum: 1, default: CHANGE.newFindingMinScore }),
        scoreRise: Type.Number({ minimum: 0, maximum: 1, default: CHANGE.scoreRise }),
        /** Studies a finding must have been seen in before its disappearance is reported. */
        resolvedMinSightings: Type.Integer({ minimum: 1, default: CHANGE.resolvedMinSightings }),
        /**
         * CC ↔ MLO: the same lesion lies within this image-normalised distance from the chest wall
         * (plus a quarter of its diameter) in the other view; 0 = no check (new findings go to the inbox alone).
         */
        crossViewTolerance: Type.Number({ minimum: 0, maximum: 1, default: CHANGE.crossViewTolerance }),
        /** … and its two diameters are within this ratio. */
        crossViewMaxSizeRatio: Type.Number({ minimum: 1, default: CHANGE.crossViewMaxSizeRatio }),
        /** Score thresholds of model-derived categories 2, 3, 4 and 5. */
        categoryThresholds: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), {
          minItems: 4,
          maxItems: 4,
          default: [...DEFAULT_CATEGORY_POLICY.thresholds],
        }),
        /** Recommended follow-up interval in months for categories 1..5. */
        intervalMonths: Type.Array(Type.Number({ exclusiveMinimum: 0 }), {
          minItems: 5,
          maxItems: 5,
          default: [...DEFAULT_CATEGORY_POLICY.intervalMonths],
        }),
        graceDays: Type.Integer({ minimum: 0, default: DEFAULT_OVERDUE_POLICY.graceDays }),
        positionTolerance: Type.Number({
          exclusiveMinimum: 0,
          maximum: 1,
          default: DEFAULT_TIMELINE_POLICY.match.positionTolerance,
        }),
        /** Images showing less tissue than this (share of the image; blank or empty exposures) do not count as follow-up. */
        minTissueFraction: Type.Number({ minimum: 0, maximum: 1, default: DEFAULT_TIMELINE_POLICY.minTissueFraction }),
        sweepIntervalS: Type.Integer({ minimum: 1, default: 3600 }),
      },
      { additionalProperties: false, default: {} },
    ),
    models: Type.Object(
      {
        /** Where published packages are kept; empty means {dataDir}/models. */
        dir: Type.String({ default: '' }),
        /** ed25519 public keys (PEM) the registry accepts signatures from. */
        trustedKeys: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        trustedKeysFile: Type.String({ default: '' }),
        /** Base URL edges download packages from; empty means this hub's HTTP address. */
        publicUrl: Type.String({ default: '' }),
      },
      { additionalProperties: false, default: {} },
    ),
    rollout: Type.Object(
      { tickMs: Type.Integer({ minimum: 50, maximum: 600_000, default: 2000 }) },
      { additionalProperties: false, default: {} },
    ),
    performance: Type.Object(
      {
        /** How often the real-world performance figures are checked for real changes (ops alerts). */
        checkIntervalS: Type.Number({ minimum: 1, maximum: 86_400, default: 3600 }),
        /** Fewest verdicts on each side before a change can count as real. */
        minSamples: Type.Integer({ minimum: 1, default: 20 }),
      },
      { additionalProperties: false, default: {} },
    ),
    dashboard: Type.Object(
      {
        /** Directory of the built dashboard; empty means the one inside the package (cloud-hub/web/dist). */
        dir: Type.String({ default: '' }),
      },
      { additionalProperties: false, default: {} },
    ),
    mqtt: Type.Object(
      {
        mode: Type.Union([Type.Literal('embedded'), Type.Literal('external')], { default: 'embedded' }),
        listen: Type.Object(
          { enabled: Type.Boolean({ default: true }), host: Type.String({ default: '127.0.0.1' }), port: Port(1883) },
          { additionalProperties: false, default: {} },
        ),
        tls: Type.Object(
          {
            enabled: Type.Boolean({ default: false }),
            host: Type.String({ default: '0.0.0.0' }),
            port: Port(8883),
            keyFile: Type.String({ default: '' }),
            certFile: Type.String({ default: '' }),
            /** CA for device client certificates (X.509 authentication); optional. */
            caFile: Type.String({ default: '' }),
            requireClientCert: Type.Boolean({ default: false }),
          },
          { additionalProperties: false, default: {} },
        ),
        external: Type.Object(
          {
            url: Type.String({ default: 'mqtt://127.0.0.1:1883' }),
            username: Type.String({ default: 'vigil-hub' }),
            password: Type.String({ default: '' }),
            passwordFile: Type.String({ default: '' }),
            caFile: Type.String({ default: '' }),
            group: Type.String({ pattern: '^[A-Za-z0-9_-]*$', default: '' }),
            consumers: Type.Integer({ minimum: 1, maximum: 64, default: 8 }),
            clientIdPrefix: Type.String({ pattern: '^[A-Za-z0-9_-]+$', default: 'vigil-hub' }),
          },
          { additionalProperties: false, default: {} },
        ),
        maxPayloadBytes: Type.Integer({ minimum: 1024, maximum: 268_435_455, default: 256 * 1024 }),
      },
      { additionalProperties: false, default: {} },
    ),
    cluster: Type.Object(
      {
        /** This replica's name in leases and logs; empty: host, process id and a random part. */
        replicaId: Type.String({ pattern: '^[A-Za-z0-9._-]*$', maxLength: 128, default: '' }),
        /**
         * How long a replica's hold on singleton work (rollout ticks, overdue sweeps) lasts without
         * renewal: a survivor takes over within this after a replica dies.
         */
        leaseTtlMs: Type.Integer({ minimum: 1000, maximum: 600_000, default: 15_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    state: Type.Object(
      {
        /** sqlite: embedded, one hub process. postgres: the hospital's PostgreSQL server (replicas share it). */
        driver: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')], { default: 'sqlite' }),
        /** Empty means {dataDir}/state.sqlite. */
        sqlitePath: Type.String({ default: '' }),
        /** postgres://user@host:5432/vigil (a password is better kept in passwordFile). */
        url: Type.String({ default: '' }),
        password: Type.String({ default: '' }),
        /** File holding the PostgreSQL password (systemd credential, Kubernetes secret). */
        passwordFile: Type.String({ default: '' }),
        /** disable | prefer | require | verify-ca | verify-full; empty: the URL's sslmode, else prefer. */
        sslmode: Type.Union(
          ['', 'disable', 'prefer', 'require', 'verify-ca', 'verify-full'].map((m) => Type.Literal(m)),
          { default: '' },
        ),
        /** CA bundle that signed the server's certificate (verify-ca, verify-full). */
        caFile: Type.String({ default: '' }),
        poolSize: Type.Integer({ minimum: 2, maximum: 200, default: 10 }),
        connectTimeoutMs: Type.Integer({ minimum: 100, default: 5000 }),
        statementTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    history: Type.Object(
      {
        driver: Type.Union([Type.Literal('embedded'), Type.Literal('influxdb')], { default: 'embedded' }),
        influx: Type.Object(
          {
            url: Type.String({ default: 'http://127.0.0.1:8086' }),
            database: Type.String({ minLength: 1, default: 'vigil' }),
            username: Type.String({ default: '' }),
            password: Type.String({ default: '' }),
            retentionPolicy: Type.String({ default: '' }),
            batchSize: Type.Integer({ minimum: 1, maximum: 100_000, default: 5000 }),
            flushIntervalMs: Type.Integer({ minimum: 10, default: 1000 }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    ingest: Type.Object(
      {
        batchSize: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }),
        maxWaitMs: Type.Integer({ minimum: 0, maximum: 1000, default: 5 }),
        maxCommitsInFlight: Type.Integer({ minimum: 0, maximum: 64, default: 1 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type HubConfig = Static<typeof HubConfigSchema>;

export function loadHubConfig(file?: string, env: NodeJS.ProcessEnv = process.env, base?: Record<string, unknown>): HubConfig {
  const config = loadConfig(HubConfigSchema, { file, env, ...(base ? { base } : {}) });
  if (config.http.tls.enabled && (!config.http.tls.keyFile || !config.http.tls.certFile)) {
    throw new VigilError(
      'VIGIL_CONFIG_INVALID',
      'config key http.tls.keyFile: HTTPS is enabled, so keyFile and certFile are required',
    );
  }
  const tls = config.mqtt.tls;
  if (tls.enabled && (!tls.keyFile || !tls.certFile)) {
    throw new VigilError(
      'VIGIL_CONFIG_INVALID',
      'config key mqtt.tls.keyFile: TLS is enabled, so keyFile and certFile are required',
    );
  }
  if (config.state.driver === 'postgres' && !config.state.url) {
    throw new VigilError(
      'VIGIL_CONFIG_INVALID',
      'config key state.url: the postgres driver needs a URL (postgres://user@host:5432/vigil)',
    );
  }
  return config;
}

/** Where the device CA lives: pki.dir, else {dataDir}/pki. */
export function pkiDir(config: HubConfig): string {
  return config.pki.dir || join(config.dataDir, 'pki');
}

/** The PostgreSQL password from `state.password` or `state.passwordFile` (empty: the URL's own, or none). */
export function statePassword(config: HubConfig): string {
  const s = config.state;
  return s.password || s.passwordFile ? resolveSecret(s.password, s.passwordFile, 'state.passwordFile') : '';
}

export function externalPassword(config: HubConfig): string {
  const ext = config.mqtt.external;
  return resolveSecret(ext.password, ext.passwordFile, 'mqtt.external.passwordFile');
}

/** Trusted model-signing keys from `models.trustedKeys` and `models.trustedKeysFile`. */
export function modelKeyPems(config: HubConfig): string[] {
  return publicKeyPems(config.models.trustedKeys, config.models.trustedKeysFile, 'models.trustedKeysFile');
}
