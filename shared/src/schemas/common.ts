import { Type } from '@sinclair/typebox';
import { ID_PATTERN } from '../ids.js';

export const Id = Type.String({ pattern: ID_PATTERN });
export const MessageId = Type.String({ minLength: 8, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
export const Timestamp = Type.String({ format: 'date-time', maxLength: 40 });
/** 32 hex characters: a truncated HMAC-SHA256 pseudonym. */
export const PseudonymKey = Type.String({ pattern: '^[0-9a-f]{32}$' });
export const SemVer = Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+(?:-[0-9A-Za-z.-]+)?$', maxLength: 64 });
export const ModelRef = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9._-]*$' }), version: SemVer },
  { additionalProperties: false },
);
export const ErrorReason = Type.Object(
  { code: Type.String({ pattern: '^VIGIL_[A-Z0-9_]+$' }), message: Type.String({ maxLength: 2000 }) },
  { additionalProperties: false },
);
