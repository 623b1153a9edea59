import { decodeFile } from '../imaging/decode-file.js';
import type { ParsedDicom } from '../imaging/dicom-file.js';
import type { ImageAttributes } from '../imaging/image-attributes.js';
import { type InputSpec, type ModelInput, preprocess } from './preprocess.js';

/**
 * File → decode → preprocess, in-process: the one path that the infer CLI, training-tensor export
 * and evaluation share, so all three see exactly the inputs the agent's pipeline produces.
 */
export async function modelInputFromFile(
  path: string,
  spec: InputSpec,
): Promise<{ parsed: ParsedDicom; attrs: ImageAttributes; input: ModelInput; decodeMs: number; preprocessMs: number }> {
  const { parsed, attrs, frame, decodeMs } = await decodeFile(path);
  const started = performance.now();
  const input = await preprocess(frame.pixels, attrs, spec);
  return { parsed, attrs, input, decodeMs, preprocessMs: performance.now() - started };
}
