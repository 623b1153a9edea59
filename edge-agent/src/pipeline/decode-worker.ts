// Worker-thread entry of the decode pool (see decode-pool.ts and workerEntry in @vigil/shared).
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { type DecodeTask, type DecodeTaskResult, runDecodeTask } from './decode-task.js';

/** The result, its pixel buffers moved (not copied) to the main thread. */
export default async function decode(task: DecodeTask): Promise<DecodeTaskResult | object> {
  const result = await runDecodeTask(task);
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
