/**
 * The one catalogue of Vigil error codes. Codes are a public, stable contract: logs, quarantine
 * reasons, dead-letter rows and API error bodies carry them. Every code here is documented in
 * docs/errors.md (a test enforces it).
 */
export const ERROR_CATALOGUE = {
  VIGIL_CONFIG_INVALID: { httpStatus: 500, summary: 'A configuration key is missing or has the wrong type or value.' },
  VIGIL_CONFIG_UNREADABLE: { httpStatus: 500, summary: 'The configuration file cannot be read or is not valid YAML.' },
  VIGIL_TOPIC_INVALID: { httpStatus: 400, summary: 'An MQTT topic does not follow vigil/v1/{clinicId}/{deviceId}/{kind}.' },
  VIGIL_PAYLOAD_NOT_JSON: { httpStatus: 400, summary: 'A message payload is not valid UTF-8 JSON.' },
  VIGIL_PAYLOAD_SCHEMA: { httpStatus: 400, summary: 'A message payload does not match its schema.' },
  VIGIL_PAYLOAD_OVERSIZED: { httpStatus: 413, summary: 'A message payload is larger than the configured limit.' },
  VIGIL_PAYLOAD_IDENTITY_MISMATCH: {
    httpStatus: 400,
    summary: "A payload's clinicId/deviceId differ from the topic it was published on.",
  },
  VIGIL_RESULT_IMPLAUSIBLE_DATE: {
    httpStatus: 422,
    summary: "A result's study date cannot be a real study: in the future, before digital mammography, or not a date.",
  },
  VIGIL_MQTT_AUTH_FAILED: { httpStatus: 401, summary: 'A device presented an unknown, revoked or wrong credential.' },
  VIGIL_MQTT_CLIENT_ID_MISMATCH: { httpStatus: 401, summary: "A device's MQTT client id differs from its username." },
  VIGIL_MQTT_ACL_DENIED: { httpStatus: 403, summary: 'A device tried to publish or subscribe outside its own topics.' },
  VIGIL_MQTT_PUBLISH_REFUSED: { httpStatus: 502, summary: 'The broker answered a publish with an error reason code.' },
  VIGIL_MQTT_UNREACHABLE: { httpStatus: 503, summary: 'The MQTT broker cannot be reached; the outbox keeps messages.' },
  VIGIL_OUTBOX_FULL: {
    httpStatus: 507,
    summary: 'The outbox reached its byte limit with results only; new results are refused.',
  },
  VIGIL_OUTBOX_DISK_FULL: { httpStatus: 507, summary: 'The disk holding the outbox is full.' },
  VIGIL_STATE_STORE_UNAVAILABLE: { httpStatus: 503, summary: 'The state store (SQL) cannot be written or read.' },
  VIGIL_LEASE_LOST: {
    httpStatus: 409,
    summary: 'A replica wrote singleton work (a rollout step) under a lease it no longer holds; the write was refused.',
  },
  VIGIL_STATE_MIGRATION_REFUSED: {
    httpStatus: 409,
    summary: 'A state copy between engines was refused: the target is not empty, or the source schema is not current.',
  },
  VIGIL_FOLLOWUP_WORKER_FAILED: {
    httpStatus: 500,
    summary: 'The follow-up worker thread died; it is replaced and its pending patients replayed.',
  },
  VIGIL_HISTORY_STORE_UNAVAILABLE: {
    httpStatus: 503,
    summary: 'The history store (InfluxDB) cannot be reached; points stay in the durable buffer.',
  },
  VIGIL_HISTORY_WRITE_REJECTED: { httpStatus: 502, summary: 'InfluxDB rejected a batch of points as malformed.' },
  VIGIL_DEVICE_EXISTS: { httpStatus: 409, summary: 'A device with that id is already registered.' },
  VIGIL_DEVICE_UNKNOWN: { httpStatus: 404, summary: 'No device with that id is registered.' },
  VIGIL_ID_INVALID: {
    httpStatus: 400,
    summary: 'A clinic or device id is not 1-64 characters of letters, digits, "_" or "-".',
  },
  VIGIL_TLS_MATERIAL_MISSING: { httpStatus: 500, summary: 'A TLS key, certificate or CA file named in the config is missing.' },
  VIGIL_DICOM_NOT_DICOM: { httpStatus: 415, summary: 'The input is not a DICOM file or dataset.' },
  VIGIL_DICOM_TRUNCATED: { httpStatus: 422, summary: 'The DICOM file ends before its dataset or pixel data does.' },
  VIGIL_DICOM_UNSUPPORTED_SYNTAX: { httpStatus: 415, summary: 'The transfer syntax is not one the edge can decode.' },
  VIGIL_DICOM_NO_PIXEL_DATA: { httpStatus: 422, summary: 'The instance has no pixel data (or no image attributes).' },
  VIGIL_DICOM_UNSUPPORTED_IMAGE: {
    httpStatus: 422,
    summary: 'The image attributes describe a pixel layout the edge does not handle.',
  },
  VIGIL_DICOM_DECODE_FAILED: { httpStatus: 422, summary: 'The pixel data codec failed to decode a frame.' },
  VIGIL_PREPROCESS_FAILED: {
    httpStatus: 500,
    summary: 'A decoded image could not be turned into the model input (resize or normalisation failed).',
  },
  VIGIL_DICOM_ASSOCIATION_REJECTED: {
    httpStatus: 403,
    summary: 'A DICOM association was refused: unknown called AE title or calling AE not allowed.',
  },
  VIGIL_DICOM_NETWORK: { httpStatus: 502, summary: 'A DICOM network or protocol error on an association.' },
  VIGIL_DICOM_VALUE_INVALID: {
    httpStatus: 422,
    summary: 'A value the edge must write into a DICOM object cannot fit its VR (a UID that is not a UID).',
  },
  VIGIL_DICOM_VIEW_INVALID: {
    httpStatus: 422,
    summary: "An image's View Position is not a defined term of the mammography views (CC, MLO, ML, LM, XCCL, …).",
  },
  VIGIL_INTAKE_STORAGE_FULL: {
    httpStatus: 507,
    summary: 'A received instance could not be written to the spool (disk full or I/O error).',
  },
  VIGIL_INTAKE_FILE_VANISHED: {
    httpStatus: 410,
    summary: 'An intake file vanished, was replaced or became unreadable while it was being taken; it is retried or skipped.',
  },
  VIGIL_INTAKE_OBJECT_TOO_LARGE: {
    httpStatus: 413,
    summary: 'A received DICOM object is larger than dicom.maxObjectBytes; the C-STORE is refused.',
  },
  VIGIL_INTAKE_DISK_LOW: {
    httpStatus: 507,
    summary: 'Free space on the intake disk is below intake.minFreeBytes; new instances are refused until space returns.',
  },
  VIGIL_MODEL_INVALID: {
    httpStatus: 422,
    summary: 'A model package is incomplete: manifest invalid, file missing or SHA-256 mismatch.',
  },
  VIGIL_MODEL_LOAD_FAILED: {
    httpStatus: 500,
    summary: 'ONNX Runtime could not load or run the model, or its input/output does not match the manifest.',
  },
  VIGIL_MODEL_SIGNATURE_INVALID: {
    httpStatus: 422,
    summary: 'A model package is unsigned, signed by an untrusted key, or its signature does not verify.',
  },
  VIGIL_MODEL_DOWNLOAD_FAILED: { httpStatus: 502, summary: 'A model package could not be downloaded from the hub.' },
  VIGIL_MODEL_SELF_TEST_FAILED: {
    httpStatus: 422,
    summary: "A model's output on its reference image differs from the expected output beyond the manifest's tolerance.",
  },
  VIGIL_MODEL_UNKNOWN: { httpStatus: 404, summary: 'No such model package (name and version) in the registry.' },
  VIGIL_ROLLOUT_INVALID: { httpStatus: 409, summary: 'The rollout cannot be started or cannot make that transition.' },
  VIGIL_ROLLOUT_BUSY: {
    httpStatus: 503,
    summary:
      "No replica holding the rollout lease carried out the operator's action in time; it was withdrawn (or its outcome is unknown).",
  },
  VIGIL_VERDICT_INVALID: {
    httpStatus: 400,
    summary:
      'A verdict does not fit what it judges: an unknown or shadow result, a finding index out of range, a dismissal without a reason, a study without results.',
  },
  VIGIL_IMPORT_INVALID: {
    httpStatus: 400,
    summary: 'An outcomes file has malformed or unknown lines; nothing of it was imported.',
  },
  VIGIL_DATASET_TRUTH_INVALID: {
    httpStatus: 422,
    summary: "A dataset's truth file has a line that does not follow its format; the message names the file and line.",
  },
  VIGIL_DATASET_IMAGE_UNREADABLE: {
    httpStatus: 422,
    summary: 'A dataset image cannot be read or decoded; the message names the file.',
  },
  VIGIL_IMPORT_TOO_LARGE: {
    httpStatus: 413,
    summary: 'An outcomes file has more lines than one import takes; nothing of it was imported (split it).',
  },
  VIGIL_IMPORT_BUSY: {
    httpStatus: 429,
    summary: 'Another outcomes import is running on this hub; try again when it has finished.',
  },
  VIGIL_CA_MISSING: {
    httpStatus: 503,
    summary: 'The hub has no device CA yet (or cannot read it), so it cannot enrol devices or renew their certificates.',
  },
  VIGIL_CA_EXISTS: {
    httpStatus: 409,
    summary: '`vigil-hub ca init` found a device CA already: replacing it would orphan every enrolled device.',
  },
  VIGIL_CA_INVALID: {
    httpStatus: 500,
    summary: "The device CA's key file is readable by other users, or does not match its certificate.",
  },
  VIGIL_ENROL_TOKEN_INVALID: {
    httpStatus: 401,
    summary: 'An enrolment request carried a token the hub never issued (mistyped or forged).',
  },
  VIGIL_ENROL_TOKEN_USED: {
    httpStatus: 401,
    summary: 'An enrolment token was already used: each token enrols one key once.',
  },
  VIGIL_ENROL_TOKEN_EXPIRED: {
    httpStatus: 401,
    summary: 'An enrolment token is past its lifetime (`--ttl`, default `pki.enrolTokenTtlS`).',
  },
  VIGIL_CSR_INVALID: {
    httpStatus: 400,
    summary:
      'A certificate request is malformed, not signed by the key it carries, or uses a key type the CA does not accept (EC P-256/P-384 or RSA ≥ 2048).',
  },
  VIGIL_CERT_INVALID: {
    httpStatus: 401,
    summary:
      "A device presented a certificate that the device CA issued but that cannot be used: revoked, superseded by the device's revocation, naming another device or clinic, or unknown to the hub's records.",
  },
  VIGIL_CERT_RENEW_FAILED: {
    httpStatus: 503,
    summary: 'The edge could not renew its certificate (hub unreachable, refused).',
  },
  VIGIL_AT_REST_KEY_INVALID: {
    httpStatus: 500,
    summary:
      "At start, the edge's at-rest encryption key is missing, unreadable by the agent, readable by others, malformed, or does not open the data already written.",
  },
  VIGIL_AT_REST_DATA_INVALID: {
    httpStatus: 422,
    summary:
      'An encrypted spool, quarantine, overlay or outbox record fails authentication: tampered, truncated, or written with a key the edge no longer has.',
  },
  VIGIL_REID_KEY_INVALID: {
    httpStatus: 500,
    summary: "The edge's re-identification key does not open its identity index (wrong or rotated key file).",
  },
  VIGIL_REID_TOKEN_INVALID: {
    httpStatus: 401,
    summary:
      'A re-identification request to an edge carried no token, or one that is forged, expired or meant for another clinic.',
  },
  VIGIL_IMAGE_NOT_HELD: {
    httpStatus: 404,
    summary:
      "The clinic's edge does not hold that study or image for viewing (it never analysed it, or its retention policy removed it).",
  },
  VIGIL_IMAGE_RETENTION_OVER: {
    httpStatus: 507,
    summary:
      "The edge's kept images outgrew viewing.maxGb even after the age rule: the size limit removed priors that follow-up reading needs.",
  },
  VIGIL_PACS_UNREACHABLE: {
    httpStatus: 503,
    summary: 'A PACS destination could not be reached or was busy; the AI results stay queued and are retried.',
  },
  VIGIL_PACS_REFUSED: {
    httpStatus: 502,
    summary:
      'A PACS destination refused the AI results (association rejected, SOP class not supported, HTTP 4xx) as often as configured; delivery stopped.',
  },
  VIGIL_PACS_BUILD_FAILED: {
    httpStatus: 422,
    summary:
      "A study's AI results objects (SR, presentation state) could not be built after repeated attempts; the study was set aside.",
  },
  VIGIL_LABELS_UNAVAILABLE: {
    httpStatus: 502,
    summary: 'The edge could not fetch its training labels from the hub (unreachable, refused, or not a labels message).',
  },
  VIGIL_AUTH_REQUIRED: { httpStatus: 401, summary: 'The request has no valid session cookie or API token.' },
  VIGIL_AUTH_FAILED: { httpStatus: 401, summary: 'Wrong username, password or one-time code.' },
  VIGIL_AUTH_LOCKED: { httpStatus: 423, summary: 'Too many failed logins: the account is locked for a while.' },
  VIGIL_AUTH_MFA_REQUIRED: {
    httpStatus: 403,
    summary: 'The session has not completed TOTP enrolment; only the enrolment routes are open to it.',
  },
  VIGIL_AUTH_CSRF: { httpStatus: 403, summary: 'A state-changing request with a session cookie lacks the matching CSRF token.' },
  VIGIL_AUTH_FORBIDDEN: { httpStatus: 403, summary: "The user's role does not allow this route." },
  VIGIL_USER_EXISTS: { httpStatus: 409, summary: 'A user with that username already exists.' },
  VIGIL_USER_LAST_ADMIN: {
    httpStatus: 409,
    summary: 'The last enabled admin cannot be disabled.',
  },
  VIGIL_USER_UNKNOWN: { httpStatus: 404, summary: 'No user with that username exists.' },
  VIGIL_API_NOT_FOUND: { httpStatus: 404, summary: 'The requested resource (patient, alert, result, device) does not exist.' },
  VIGIL_API_INVALID_REQUEST: { httpStatus: 400, summary: 'A request parameter or body does not match the route schema.' },
  VIGIL_API_RATE_LIMITED: { httpStatus: 429, summary: 'Too many requests from this client; retry after the indicated delay.' },
  VIGIL_ALERT_TRANSITION: {
    httpStatus: 409,
    summary: 'The alert cannot move to that state (e.g. acknowledging a resolved alert).',
  },
  VIGIL_AUDIT_CHAIN_BROKEN: { httpStatus: 500, summary: 'The audit log hash chain does not verify: an entry was altered.' },
  VIGIL_INTERNAL: { httpStatus: 500, summary: 'An unexpected internal error; the log has the details.' },
} as const satisfies Record<string, { httpStatus: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class VigilError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VigilError';
    this.code = code;
    this.details = options?.details;
  }

  get httpStatus(): number {
    return ERROR_CATALOGUE[this.code].httpStatus;
  }

  /** The shape used in quarantine reasons, dead letters, CLI JSON output and API error bodies. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isVigilError(value: unknown): value is VigilError {
  return value instanceof VigilError;
}

/** Wraps anything thrown into a VigilError, keeping an existing code. */
export function asVigilError(value: unknown, fallback: ErrorCode = 'VIGIL_INTERNAL'): VigilError {
  if (value instanceof VigilError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new VigilError(fallback, message, { cause: value });
}
