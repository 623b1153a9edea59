import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Structured JSON logs. Secrets and anything that could be PHI are redacted by path as a second
 * line of defence; the first is never to pass such values to a log call.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'clinicSecret',
  '*.clinicSecret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'patientName',
  '*.patientName',
  'patientId',
  '*.patientId',
  'birthDate',
  '*.birthDate',
];

export function createLogger(name: string, options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings: LoggerOptions = {
    name,
    level: process.env.VIGIL_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
  };
  return destination ? pino(settings, destination) : pino(settings);
}
