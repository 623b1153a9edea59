import { VigilError } from '@vigil/shared';
import ort from 'onnxruntime-node';
import type { Acquisition } from '../imaging/image-attributes.js';
import { cpuFallbackReason, probeAccelerator } from './accelerator.js';
import { type ModelManifest, readModelPackage } from './model-manifest.js';

export type ExecutionProvider = 'cuda' | 'cpu';

/**
 * One warm ONNX Runtime session for a verified model package. CUDA is tried first and CPU used
 * when it is unavailable; the chosen provider is reported in telemetry. A warm-up run on a blank
 * input at load time catches a corrupt or mismatched model before the first patient image.
 */
export class OnnxModel {
  private constructor(
    readonly manifest: ModelManifest,
    readonly provider: ExecutionProvider,
    private readonly session: ort.InferenceSession,
    /** Why inference runs on the CPU (undefined on the GPU): shown by `vigil-edge doctor`, sent in telemetry. */
    readonly cpuReason?: string,
  ) {}

  static async load(dir: string, options: { threads?: number; preferCuda?: boolean } = {}): Promise<OnnxModel> {
    const { manifest, onnx } = await readModelPackage(dir);
    const common = { intraOpNumThreads: options.threads ?? 0, graphOptimizationLevel: 'all' as const };
    let session: ort.InferenceSession | undefined;
    let provider: ExecutionProvider = 'cpu';
    let cpuReason: string | undefined;
    const probe = probeAccelerator();
    // Only where an NVIDIA device and the CUDA provider exist: elsewhere ONNX Runtime would log a library-load error.
    if (options.preferCuda === false) cpuReason = 'CPU chosen by the caller';
    else if (probe.nvidiaDevice && probe.cudaProvider) {
      session = await ort.InferenceSession.create(onnx, { ...common, executionProviders: ['cuda'] }).catch((error: Error) => {
        cpuReason = cpuFallbackReason(probe, error.message) ?? error.message;
        return undefined;
      });
      if (session) provider = 'cuda';
    } else cpuReason = cpuFallbackReason(probe);
    try {
      session ??= await ort.InferenceSession.create(onnx, { ...common, executionProviders: ['cpu'] });
    } catch (error) {
      throw new VigilError(
        'VIGIL_MODEL_LOAD_FAILED',
        `ONNX Runtime cannot load ${manifest.name} ${manifest.version}: ${(error as Error).message}`,
      );
    }
    const inputs = [manifest.input.name, ...(manifest.branches ? [manifest.branches.selector] : [])];
    if (
      inputs.some((name) => !session.inputNames.includes(name)) ||
      session.inputNames.length !== inputs.length ||
      !session.outputNames.includes(manifest.output.name)
    ) {
      throw new VigilError(
        'VIGIL_MODEL_LOAD_FAILED',
        `model inputs ${session.inputNames.join(',')} / outputs ${session.outputNames.join(',')} do not match the manifest (${inputs.join(',')} → ${manifest.output.name})`,
      );
    }
    const model = new OnnxModel(manifest, provider, session, provider === 'cpu' ? cpuReason : undefined);
    const blank = new Float32Array(manifest.input.width * manifest.input.height);
    await model.run(blank, 'digital');
    if (manifest.branches) await model.run(blank, 'film');
    return model;
  }

  /**
   * Runs the model on one preprocessed image; returns the lesion probability map. A model with
   * branches runs the one for the image's acquisition (others ignore it).
   */
  async run(
    tensor: Float32Array,
    acquisition: Acquisition = 'digital',
  ): Promise<{ data: Float32Array; width: number; height: number }> {
    const { input, output, branches } = this.manifest;
    const feeds: Record<string, ort.Tensor> = {
      [input.name]: new ort.Tensor('float32', tensor, [1, 1, input.height, input.width]),
    };
    if (branches) feeds[branches.selector] = new ort.Tensor('bool', [acquisition === 'film'], [1]);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.session.run(feeds);
    } catch (error) {
      throw new VigilError('VIGIL_MODEL_LOAD_FAILED', `inference failed: ${(error as Error).message}`);
    }
    const map = result[output.name];
    const [, , height, width] = (map?.dims ?? []) as number[];
    if (!map || height !== input.height / output.stride || width !== input.width / output.stride) {
      throw new VigilError(
        'VIGIL_MODEL_LOAD_FAILED',
        `output ${output.name} has shape ${map?.dims.join('×')}, expected stride ${output.stride}`,
      );
    }
    return { data: map.data as Float32Array, width, height };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
