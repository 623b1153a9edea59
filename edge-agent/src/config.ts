import { type Static, Type } from '@sinclair/typebox';
import { ID_PATTERN, loadConfig, publicKeyPems, resolveSecret, VigilError } from '@vigil/shared';

const GiB = 1024 ** 3;

/** What every PACS destination has, whatever its kind. */
const destinationCommon = {
  name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  /** Refusals (bad AE title, SOP class not supported, HTTP 4xx) before an object is given up with VIGIL_PACS_REFUSED. */
  maxRefusals: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
  timeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
};

/** `kind: dimse`: C-STORE to a PACS's SCP (sender: reporting/senders/dimse-sender.ts). */
const DimseDestinationSchema = Type.Object(
  {
    ...destinationCommon,
    kind: Type.Literal('dimse'),
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 104 }),
    calledAeTitle: Type.String({ maxLength: 16, default: 'PACS' }),
    callingAeTitle: Type.String({ maxLength: 16, default: 'VIGIL' }),
    /** DICOM TLS: the PACS's CA, and this edge's certificate when the PACS asks for one. */
    tls: Type.Object(
      {
        enabled: Type.Boolean({ default: false }),
        caFile: Type.String({ default: '' }),
        certFile: Type.String({ default: '' }),
        keyFile: Type.String({ default: '' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

/** `kind: stow`: DICOMweb STOW-RS (sender: reporting/senders/stow-sender.ts). */
const StowDestinationSchema = Type.Object(
  {
    ...destinationCommon,
    kind: Type.Literal('stow'),
    /** Base URL (…/studies is appended), e.g. https://pacs/dicom-web. */
    url: Type.String({ minLength: 1 }),
    /** Auth: a bearer token (from a file), or basic username + password (file). */
    tokenFile: Type.String({ default: '' }),
    username: Type.String({ default: '' }),
    passwordFile: Type.String({ default: '' }),
  },
  { additionalProperties: false },
);

export const EdgeConfigSchema = Type.Object(
  {
    clinicId: Type.String({ pattern: ID_PATTERN, default: 'clinic-demo' }),
    deviceId: Type.String({ pattern: ID_PATTERN, default: 'edge-1' }),
    /** Holds the outbox, spool, quarantine and models. Relative paths are relative to the working directory. */
    dataDir: Type.String({ minLength: 1, default: '.vigil/edge' }),
    tags: Type.Array(Type.String({ maxLength: 64 }), { default: [] }),
    /**
     * The hub's HTTPS API base URL (https://host:port), for what the edge asks the hub directly with
     * its device credentials: training labels, and reporting re-identifications to the audit log.
     */
    hubUrl: Type.String({ default: '' }),
    identity: Type.Object(
      {
        /**
         * A one-time enrolment token from the hub operator (`vigil-hub device enrol-token`): at start,
         * a device without a certificate makes its key, sends a CSR with the token to hubUrl and from
         * then on authenticates with the certificate (MQTT mTLS, device HTTP routes). Use the file form.
         */
        enrolmentToken: Type.String({ default: '' }),
        enrolmentTokenFile: Type.String({ default: '' }),
        /** CA of the hub's server certificates (HTTPS API and MQTT TLS); empty: the system's CAs. */
        hubCaFile: Type.String({ default: '' }),
        /** Renew the certificate once this fraction of its lifetime has passed. */
        renewAt: Type.Number({ minimum: 0.1, maximum: 0.95, default: 0.667 }),
      },
      { additionalProperties: false, default: {} },
    ),
    mqtt: Type.Object(
      {
        url: Type.String({ pattern: '^(mqtt|mqtts|tcp|tls|ssl)://', default: 'mqtt://127.0.0.1:1883' }),
        /** Empty means the device id. */
        username: Type.String({ default: '' }),
        password: Type.String({ default: '' }),
        /** A file holding the password, for secrets mounted by systemd or Kubernetes. */
        passwordFile: Type.String({ default: '' }),
        caFile: Type.String({ default: '' }),
        certFile: Type.String({ default: '' }),
        keyFile: Type.String({ default: '' }),
        protocolVersion: Type.Union([Type.Literal(4), Type.Literal(5)], { default: 4 }),
        keepaliveS: Type.Integer({ minimum: 5, maximum: 3600, default: 30 }),
        inflightWindow: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
        reconnectMinMs: Type.Integer({ minimum: 50, default: 500 }),
        reconnectMaxMs: Type.Integer({ minimum: 100, default: 30_000 }),
        /**
         * End-to-end receipts: keep each result until the hub's receipt says it is committed (set it
         * with an external broker, whose PUBACK only means the broker has it). The embedded broker's
         * PUBACK already follows the hub's commit.
         */
        receipts: Type.Boolean({ default: false }),
        /** A result not confirmed within this is sent again; the wait doubles per resend up to the max. */
        receiptTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
        receiptMaxTimeoutMs: Type.Integer({ minimum: 100, default: 600_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    storage: Type.Object(
      {
        encryption: Type.Object(
          {
            /**
             * AES-256-GCM for the spool, quarantine, overlays and outbox payloads. Keep the key off
             * the data disk (a separate mount, systemd LoadCredential, a Kubernetes secret).
             */
            enabled: Type.Boolean({ default: false }),
            /** The current key: base64 of 32 bytes, mode 0600 (`vigil-edge at-rest new-key FILE`). */
            keyFile: Type.String({ default: '' }),
            /** Earlier keys, kept until `vigil-edge at-rest status` shows nothing left that they wrote. */
            retiredKeyFiles: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    outbox: Type.Object(
      { maxBytes: Type.Integer({ minimum: 1024, default: 2 * GiB }) },
      { additionalProperties: false, default: {} },
    ),
    dicom: Type.Object(
      {
        /** The C-STORE SCP; off unless configured (it needs deid.secret). */
        enabled: Type.Boolean({ default: false }),
        aeTitle: Type.String({ pattern: '^[ -~]{1,16}$', default: 'VIGIL' }),
        /** Address the SCP listens on: loopback unless set to the clinic network's interface (or 0.0.0.0). */
        host: Type.String({ minLength: 1, default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 1, maximum: 65535, default: 11112 }),
        /** Calling AE titles allowed to store. Empty refuses every association unless allowAnyCallingAe. */
        allowedCallingAeTitles: Type.Array(Type.String({ maxLength: 16 }), { default: [] }),
        /** Accept any calling AE title (for a closed test network; production configs list their modalities). */
        allowAnyCallingAe: Type.Boolean({ default: false }),
        /** A received object larger than this is refused (0xA700) as soon as it passes the limit. */
        maxObjectBytes: Type.Integer({ minimum: 1024, default: 2 * GiB }),
        tls: Type.Object(
          {
            /** DICOM TLS (PS3.15 Annex B, the "basic TLS secure transport connection" profile). */
            enabled: Type.Boolean({ default: false }),
            keyFile: Type.String({ default: '' }),
            certFile: Type.String({ default: '' }),
            /** When set, modalities must present a client certificate signed by this CA. */
            caFile: Type.String({ default: '' }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    intake: Type.Object(
      {
        /** New instances are refused (C-STORE 0xA700, watched files left in place) below this much free disk. */
        minFreeBytes: Type.Integer({ minimum: 0, default: 512 * 1024 ** 2 }),
      },
      { additionalProperties: false, default: {} },
    ),
    watchFolder: Type.Object(
      {
        /** Empty disables the watched folder. */
        path: Type.String({ default: '' }),
        intervalMs: Type.Integer({ minimum: 50, default: 1000 }),
        stableMs: Type.Integer({ minimum: 0, default: 2000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    deid: Type.Object(
      {
        /** Keyed-pseudonym secret shared by every device of the network (rotation: docs/operations.md). */
        secret: Type.String({ default: '' }),
        secretFile: Type.String({ default: '' }),
      },
      { additionalProperties: false, default: {} },
    ),
    overlay: Type.Object(
      {
        /** Keep a low-resolution overlay PNG (findings outlined) per image under {dataDir}/overlays. */
        enabled: Type.Boolean({ default: true }),
        /** Also send it to the hub inside the result (opt-in: it is image content, if de-identified). */
        send: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
    imaging: Type.Object(
      {
        /** Decode worker threads; 0 = one less than the CPU count (at least 1). */
        decodeThreads: Type.Integer({ minimum: 0, maximum: 64, default: 0 }),
        /**
         * Images decoded and processed at once (bounds memory under a flood). Three, so a decode worker
         * starts the next image while the main thread still infers and files the one before.
         */
        concurrency: Type.Integer({ minimum: 1, maximum: 64, default: 3 }),
        /**
         * JPEG 2000 decoder: `auto` runs OpenJPEG's native, multi-threaded `opj_decompress` (Debian
         * libopenjp2-tools) where it is installed, about twice the WebAssembly decoder's speed; `off`
         * keeps the WebAssembly decoder; or the tool's absolute path.
         */
        jpeg2000Tool: Type.String({ minLength: 1, default: 'auto' }),
      },
      { additionalProperties: false, default: {} },
    ),
    model: Type.Object(
      {
        /** A model package directory (model.onnx + manifest.json); empty = decode only, no inference. */
        dir: Type.String({ default: '' }),
        /** ONNX Runtime intra-op threads; 0 = runtime default. */
        threads: Type.Integer({ minimum: 0, maximum: 64, default: 0 }),
        /** ed25519 public keys (PEM) whose signatures make a model package installable. */
        trustedKeys: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        /** A PEM file with one or more trusted public keys (joined with trustedKeys). */
        trustedKeysFile: Type.String({ default: '' }),
      },
      { additionalProperties: false, default: {} },
    ),
    pacs: Type.Object(
      {
        /**
         * Results back to the clinic: a TID 1500 SR (IHE AI Results) per analysed study, built at the
         * edge with the patient's real identity and delivered only to these destinations (never the hub).
         */
        enabled: Type.Boolean({ default: false }),
        /**
         * What goes to the PACS per study: `sr` (TID 1500 Comprehensive 3D SR, for viewers that read
         * it), `gsps` (a presentation state drawing the findings on the original images, for those that
         * do not).
         */
        objects: Type.Array(Type.Union([Type.Literal('sr'), Type.Literal('gsps')]), { default: ['sr', 'gsps'], minItems: 1 }),
        /** A study's SR is built once no image of it arrived for this long (a late image gives a new SR). */
        studySettleS: Type.Number({ minimum: 0, maximum: 86_400, default: 30 }),
        /** Retries of a failed delivery back off from min to max; a destination that is down loses nothing. */
        retryMinMs: Type.Integer({ minimum: 10, default: 2000 }),
        /** Attempts at building a study's objects before it is set aside (VIGIL_PACS_BUILD_FAILED) so later studies go on. */
        maxBuildAttempts: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
        retryMaxMs: Type.Integer({ minimum: 10, default: 300_000 }),
        /** SR series number (shown in the PACS viewer beside the study's images). */
        seriesNumber: Type.Integer({ minimum: 1, maximum: 2_147_483_647, default: 9901 }),
        institutionName: Type.String({ default: '' }),
        /** Where the objects go: one shape per kind (`dimse`: C-STORE to an SCP; `stow`: DICOMweb STOW-RS). */
        destinations: Type.Array(Type.Union([DimseDestinationSchema, StowDestinationSchema]), { default: [] }),
      },
      { additionalProperties: false, default: {} },
    ),
    reid: Type.Object(
      {
        /**
         * Names for pseudonyms, inside the clinic only: an encrypted local index from pseudonym to
         * patient, and an HTTPS endpoint a clinician's browser asks with a short-lived token from
         * the hub. The hub never sees a name.
         */
        enabled: Type.Boolean({ default: false }),
        host: Type.String({ default: '0.0.0.0' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8444 }),
        /** The URL clinicians' browsers reach the endpoint at (told to the hub in telemetry). */
        publicUrl: Type.String({ default: '' }),
        tls: Type.Object(
          {
            /** Off only for a loopback demo: names must not cross a network in clear text. */
            enabled: Type.Boolean({ default: true }),
            certFile: Type.String({ default: '' }),
            keyFile: Type.String({ default: '' }),
          },
          { additionalProperties: false, default: {} },
        ),
        /** Browser origins allowed to ask (the hub's dashboard URL), for CORS. */
        allowedOrigins: Type.Array(Type.String({ pattern: '^https?://' }), { default: [] }),
        /** The hub's public key (PEM) that signs re-identification tokens. */
        hubPublicKeyFile: Type.String({ default: '' }),
        /** AES-256 key of the identity index (base64 of 32 bytes, mode 0600); default {dataDir}-keys/reid.key, outside the data directory. */
        keyFile: Type.String({ default: '' }),
        /** Create the key file when it is missing (first start); off, a missing key is an error. */
        createKey: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    viewing: Type.Object(
      {
        /**
         * Keep each analysed image's decoded frame for clinicians' viewers, served by the clinic
         * endpoint (reid.*) over DICOMweb with the hub's token. Only with reid.enabled; the images
         * never leave the clinic.
         */
        enabled: Type.Boolean({ default: true }),
        /** Images older than this (by study date) are removed, except each patient's latest keepStudies studies. */
        maxAgeDays: Type.Integer({ minimum: 1, maximum: 36_500, default: 1095 }),
        /** Studies per patient kept whatever their age: the current one and the priors follow-up compares with. */
        keepStudies: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
        /**
         * Disk the kept images may use; past it the oldest go first (protected priors last, with a
         * warning). Frames are kept decoded, for speed: a four-view digital study is about 110 MB.
         */
        maxGb: Type.Number({ exclusiveMinimum: 0, maximum: 100_000, default: 200 }),
        /** DICOMweb requests per minute per browser address. */
        requestsPerMinute: Type.Integer({ minimum: 1, maximum: 100_000, default: 1200 }),
        sweepIntervalS: Type.Number({ minimum: 1, maximum: 86_400, default: 3600 }),
      },
      { additionalProperties: false, default: {} },
    ),
    training: Type.Object(
      {
        /**
         * Keep each analysed image's de-identified model input (the preprocessed tensor, no header)
         * under {dataDir}/training-inputs, to retrain on clinicians' verdicts. It never leaves the clinic.
         */
        keepInputs: Type.Boolean({ default: false }),
        /** Inputs kept at most; the oldest are dropped first. */
        maxImages: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 5000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    telemetry: Type.Object(
      { intervalS: Type.Number({ minimum: 0.1, maximum: 3600, default: 10 }) },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type EdgeConfig = Static<typeof EdgeConfigSchema>;

export function loadEdgeConfig(file?: string, env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  return loadConfig(EdgeConfigSchema, { file, env });
}

/** The pseudonym secret, required as soon as any intake is enabled. */
export function deidSecret(config: EdgeConfig): string {
  const secret = resolveSecret(config.deid.secret, config.deid.secretFile, 'deid.secretFile');
  if (secret.length < 16) {
    throw new VigilError(
      'VIGIL_CONFIG_INVALID',
      'config key deid.secret: intake needs a pseudonym secret of at least 16 characters',
    );
  }
  return secret;
}

export function mqttPassword(config: EdgeConfig): string {
  return resolveSecret(config.mqtt.password, config.mqtt.passwordFile, 'mqtt.passwordFile');
}

/** The enrolment token from identity.enrolmentToken or identity.enrolmentTokenFile ('' when neither). */
export function enrolmentToken(config: EdgeConfig): string {
  return resolveSecret(config.identity.enrolmentToken, config.identity.enrolmentTokenFile, 'identity.enrolmentTokenFile');
}

/** The trusted model-signing keys from `model.trustedKeys` and `model.trustedKeysFile`. */
export function trustedKeyPems(config: EdgeConfig): string[] {
  return publicKeyPems(config.model.trustedKeys, config.model.trustedKeysFile, 'model.trustedKeysFile');
}
