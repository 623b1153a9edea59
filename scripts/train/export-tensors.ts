import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelInputFromFile } from '@vigil/edge-agent';
import { readTruth } from '../phantoms/generate-phantoms.js';

export interface TensorSpec {
  width: number;
  height: number;
  /** Output map stride relative to the input (the network downsamples by this factor). */
  stride: number;
}

export interface ExportedSet {
  count: number;
  width: number;
  height: number;
  images: { file: string; patientId: string; positive: boolean; findings: number }[];
}

/**
 * Training tensors made by the edge's own decode and preprocess code (identical inputs in training
 * and serving), with target maps: a disc for each finding (calcification clusters included) at the
 * map resolution. Writes inputs.f32 (N×H×W), targets.u8 (N×H/stride×W/stride) and index.json.
 */
export async function exportTensors(
  phantomDir: string,
  outDir: string,
  spec: TensorSpec,
  onProgress?: (done: number, total: number) => void,
): Promise<ExportedSet> {
  const { images } = readTruth(phantomDir);
  const mapW = spec.width / spec.stride;
  const mapH = spec.height / spec.stride;
  const inputs = new Float32Array(images.length * spec.width * spec.height);
  const targets = new Uint8Array(images.length * mapW * mapH);
  const index: ExportedSet['images'] = [];
  for (const [n, image] of images.entries()) {
    const { input } = await modelInputFromFile(join(phantomDir, image.file), spec);
    inputs.set(input.tensor, n * spec.width * spec.height);
    const mapScale = input.scale / spec.stride;
    for (const f of image.findings) {
      const cx = (input.mirrored ? 1 - f.x : f.x) * image.columns * mapScale;
      const cy = f.y * image.rows * mapScale;
      const r = Math.max(1, (f.diameterMm / 2 / image.pixelSpacingMm) * mapScale);
      for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(mapH, Math.ceil(cy + r)); y++) {
        for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(mapW, Math.ceil(cx + r)); x++) {
          if (Math.hypot(x + 0.5 - cx, y + 0.5 - cy) <= r) targets[n * mapW * mapH + y * mapW + x] = 1;
        }
      }
    }
    index.push({
      file: image.file,
      patientId: image.patientId,
      positive: image.findings.length > 0,
      findings: image.findings.length,
    });
    onProgress?.(n + 1, images.length);
  }
  writeFileSync(join(outDir, 'inputs.f32'), Buffer.from(inputs.buffer));
  writeFileSync(join(outDir, 'targets.u8'), Buffer.from(targets.buffer));
  const set: ExportedSet = { count: images.length, width: spec.width, height: spec.height, images: index };
  writeFileSync(join(outDir, 'index.json'), `${JSON.stringify({ ...set, stride: spec.stride }, null, 2)}\n`);
  return set;
}
