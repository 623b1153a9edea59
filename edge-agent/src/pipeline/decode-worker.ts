// Worker-thread entry of the decode pool (see decode-pool.ts and workerEntry in @vigil/shared).
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import { AtRestCipher } from '../at-rest/at-rest-cipher.js';
import { useOpenJpegTool } from '../imaging/openjpeg-tool.js';
import type { DecodeWorkerData } from './decode-pool.js';
import { type DecodeTask, type DecodeTaskResult, readWhole, runDecodeTask } from './decode-task.js';

const started = workerData as Partial<DecodeWorkerData> | undefined;
// The at-rest keys the pool was started with: spooled files are decrypted here, in memory only.
const atRest = AtRestCipher.fromTransferable(started?.atRestKeys ?? []);
useOpenJpegTool(started?.jpeg2000Tool ?? 'auto');
const read = (path: string) => atRest.open(readWhole(path));

/** The result, its pixel buffers moved (not copied) to the main thread. */
export default async function decode(task: DecodeTask): Promise<DecodeTaskResult | object> {
  const result = await runDecodeTask(task, read);
  if (!result.ok) return result;
  // Hand the pixel buffer to the main thread instead of copying it (Piscina's transferable protocol).
  return move({
    get [transferableSymbol]() {
      return result.modelInput ? [result.pixels.buffer, result.modelInput.input.tensor.buffer] : [result.pixels.buffer];
    },
    get [valueSymbol]() {
      return result;
    },
  });
}
