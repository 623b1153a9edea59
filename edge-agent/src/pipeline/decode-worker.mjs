// Worker-thread entry for the decode pool: the TypeScript sources run through tsx, as in the main thread.
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { register } from 'tsx/esm/api';

register();
const { runDecodeTask } = await import('./decode-task.ts');

export default async function decode(task) {
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
