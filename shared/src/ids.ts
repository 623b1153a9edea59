import { createHash, createHmac, randomUUID } from 'node:crypto';
import { VigilError } from './errors.js';

/** Clinic and device ids travel in MQTT topics, so they are restricted to topic-safe characters. */
export const ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
const ID_REGEX = new RegExp(ID_PATTERN);

export function isValidId(id: string): boolean {
  return ID_REGEX.test(id);
}

export function assertValidId(kind: 'clinicId' | 'deviceId', id: string): void {
  if (!isValidId(id)) {
    throw new VigilError('VIGIL_ID_INVALID', `${kind} "${id}" must be 1-64 characters of letters, digits, "_" or "-"`);
  }
}

/** A random message id for messages that have no natural identity (telemetry, status). */
export function newMessageId(): string {
  return randomUUID();
}

/**
 * A result's id is a hash of the instance pseudonym and the model version, so a redelivered or
 * recomputed result for the same image and model is recognised as the same message at the hub.
 */
export function resultMessageId(instanceKey: string, modelName: string, modelVersion: string): string {
  return createHash('sha256').update(`${instanceKey}\u0000${modelName}\u0000${modelVersion}`).digest('hex').slice(0, 32);
}

/**
 * Keyed pseudonym: HMAC-SHA256(clinic secret, namespace + value). The namespace keeps a patient id
 * and a UID with the same text apart; the issuer keeps two hospitals' patient "123" apart.
 */
export function pseudonym(secret: string | Buffer, namespace: string, value: string): string {
  return createHmac('sha256', secret).update(`${namespace}\u0000${value}`).digest('hex').slice(0, 32);
}
