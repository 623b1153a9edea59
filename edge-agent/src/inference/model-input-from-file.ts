import { readFile } from 'node:fs/promises';
import { initCodecs } from '../imaging/codecs.js';
import { type ParsedDicom, parseDicom } from '../imaging/dicom-file.js';
import { type ImageAttributes, readImageAttributes } from '../imaging/image-attributes.js';
import { decodeFrame } from '../imaging/pixel-data.js';
import { type InputSpec, type ModelInput, preprocess } from './preprocess.js';

/**
 * File → decode → preprocess, in-process: the one path that the infer CLI, training-tensor export
 * and evaluation share, so all three see exactly the inputs the agent's pipeline produces.
 */
export async function modelInputFromFile(
  path: string,
  spec: InputSpec,
): Promise<{ parsed: ParsedDicom; attrs: ImageAttributes; input: ModelInput; decodeMs: number; preprocessMs: number }> {
  await initCodecs();
  const started = performance.now();
  const parsed = parseDicom(await readFile(path));
  const attrs = readImageAttributes(parsed.dataSet);
  const pixels = decodeFrame(parsed, attrs, 0).pixels;
  const decoded = performance.now();
  const input = await preprocess(pixels, attrs, spec);
  return { parsed, attrs, input, decodeMs: decoded - started, preprocessMs: performance.now() - decoded };
}
