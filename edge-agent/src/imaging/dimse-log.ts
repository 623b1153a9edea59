import type { Logger } from '@vigil/shared';
import dcmjsDimse from 'dcmjs-dimse';

const { log: dimseLog } = dcmjsDimse;

/**
 * Routes dcmjs-dimse's loglevel output (association chatter, module-wide) into pino: debug for the
 * chatter, warn and error as such. Called by whatever uses the library (the SCP, the PACS senders),
 * so its lines never land raw on stdout beside the JSON log.
 */
export function routeDimseLogs(logger: Logger): void {
  dimseLog.methodFactory = (methodName, level, loggerName) => {
    return (...message: unknown[]) => {
      const text = message.map(String).join(' ');
      if (methodName === 'error') logger.error({ code: 'VIGIL_DICOM_NETWORK' }, text);
      else if (methodName === 'warn') logger.warn(text);
      else logger.debug({ level, loggerName }, text);
    };
  };
  dimseLog.setLevel(dimseLog.getLevel());
}
