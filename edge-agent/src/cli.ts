import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createLogger, keepRunningOnUnhandledRejection, VigilError } from '@vigil/shared';
import { Command } from 'commander';
import { addAtRestCommands } from './cli-at-rest.js';
import { deidSecret, loadEdgeConfig } from './config.js';
import { EdgeAgent } from './edge-agent.js';
import { deviceHttp } from './identity/device-credentials.js';
import { inspectFile } from './imaging/inspect-file.js';
import { jpeg2000DecoderName, useOpenJpegTool } from './imaging/openjpeg-tool.js';
import { cpuFallbackReason, onnxRuntimeBinDir, probeAccelerator, pruneOnnxRuntime } from './inference/accelerator.js';
import { readModelPackage } from './inference/model-manifest.js';
import { OnnxModel } from './inference/onnx-model.js';
import { packModel } from './models/model-package-file.js';
import { inferFile } from './pipeline/infer-file.js';
import { TrainingInputStore } from './training/input-store.js';
import { assembleTrainingSet, fetchLabels } from './training/training-set.js';
import { AGENT_VERSION } from './version.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('vigil-edge').version(AGENT_VERSION).description('Vigil edge agent');
  program
    .command('serve')
    .description('run the edge agent')
    .option('-c, --config <file>', 'YAML config file (VIGIL_… variables override it)', process.env.VIGIL_CONFIG)
    .action(async (options: { config?: string }) => {
      const logger = createLogger('vigil-edge');
      keepRunningOnUnhandledRejection(logger);
      let agent: EdgeAgent;
      try {
        agent = new EdgeAgent(loadEdgeConfig(options.config), { logger });
        await agent.start();
      } catch (error) {
        reportFatal(error);
        return;
      }
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'stopping');
        agent.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
  program
    .command('inspect')
    .description('decode DICOM files and print one JSON line each (exit 1 if any failed)')
    .argument('<files...>')
    .option('--json', 'JSON lines (the only format; accepted for the documented command line)')
    .action(async (files: string[]) => {
      let failed = false;
      for (const file of files) {
        const result = await inspectFile(file);
        failed ||= !result.ok;
        process.stdout.write(`${JSON.stringify(result)}\n`);
      }
      process.exitCode = failed ? 1 : 0;
    });
  program
    .command('infer')
    .description('run the model on DICOM files and print one JSON line each (exit 1 if any failed)')
    .argument('<files...>')
    .option('--json', 'JSON lines (the only format; accepted for the documented command line)')
    .option('-c, --config <file>', 'YAML config (model.dir, deid.secret)', process.env.VIGIL_CONFIG)
    .option('--model <dir>', 'model package directory (overrides model.dir)')
    .action(async (files: string[], options: { config?: string; model?: string }) => {
      let model: OnnxModel;
      let config: ReturnType<typeof loadEdgeConfig>;
      try {
        config = loadEdgeConfig(options.config);
        const dir = options.model ?? config.model.dir;
        if (!dir) throw new VigilError('VIGIL_CONFIG_INVALID', 'config key model.dir: no model configured (or pass --model DIR)');
        model = await OnnxModel.load(dir, { threads: config.model.threads });
      } catch (error) {
        reportFatal(error);
        return;
      }
      // Result ids are pseudonym-based; without a configured secret a per-run one keeps them opaque.
      const secret = config.deid.secret || config.deid.secretFile ? deidSecret(config) : randomBytes(32).toString('hex');
      let failed = false;
      for (const file of files) {
        const result = await inferFile(file, model, secret, config.clinicId);
        failed ||= !result.ok;
        process.stdout.write(`${JSON.stringify(result)}\n`);
      }
      await model.close();
      process.exitCode = failed ? 1 : 0;
    });
  program
    .command('doctor')
    .description(
      'what this box offers inference (NVIDIA device, driver, CUDA libraries, provider) and what the model will run on; one JSON object',
    )
    .option('-c, --config <file>', 'YAML config (model.dir, model.threads)', process.env.VIGIL_CONFIG)
    .option('--model <dir>', 'model package directory (overrides model.dir)')
    .action(async (options: { config?: string; model?: string }) => {
      try {
        const config = loadEdgeConfig(options.config);
        const dir = options.model ?? config.model.dir;
        const probe = probeAccelerator();
        let inference: Record<string, unknown> = { model: null, provider: null, cpuReason: cpuFallbackReason(probe) ?? null };
        if (dir) {
          const model = await OnnxModel.load(dir, { threads: config.model.threads });
          inference = {
            model: `${model.manifest.name} ${model.manifest.version}`,
            provider: model.provider,
            cpuReason: model.cpuReason ?? null,
          };
          await model.close();
        }
        const threads = config.model.threads || `runtime default (${probe.cpus} CPUs)`;
        useOpenJpegTool(config.imaging.jpeg2000Tool);
        const jpeg2000Decoder = jpeg2000DecoderName();
        process.stdout.write(`${JSON.stringify({ ...probe, threads, ...inference, jpeg2000Decoder }, null, 2)}\n`);
        process.stderr.write(
          inference.provider === 'cuda'
            ? `vigil-edge: inference runs on the GPU (${probe.gpus.join(', ') || 'NVIDIA'})\n`
            : `vigil-edge: inference runs on the CPU: ${String(inference.cpuReason ?? 'no model configured')}\n`,
        );
      } catch (error) {
        reportFatal(error);
      }
    });
  program
    .command('prune-runtime')
    .description("remove ONNX Runtime's libraries for other platforms from this installation (run once after npm install)")
    .action(() => {
      const bin = onnxRuntimeBinDir();
      if (!bin) {
        reportFatal(new VigilError('VIGIL_CONFIG_INVALID', 'onnxruntime-node is not installed here'));
        return;
      }
      const { removed, bytes } = pruneOnnxRuntime(join(bin, '..', '..', '..'));
      process.stdout.write(`${JSON.stringify({ removed: removed.length, freedMb: Math.round(bytes / 1e6), kept: bin })}\n`);
    });
  program
    .command('training-set')
    .description(
      "assemble a local training set from clinicians' verdicts (fetched from the hub) and the model inputs this edge kept; images never leave the clinic",
    )
    .option('-c, --config <file>', 'YAML config (hubUrl, dataDir, device credentials)', process.env.VIGIL_CONFIG)
    .requiredOption('--out <dir>', 'directory to write inputs.u16, targets.u8 and index.json to')
    .option('--model <dir>', "the model to retrain (its input size); default: model.dir, else the kept inputs' size")
    .action(async (options: { config?: string; out: string; model?: string }) => {
      try {
        const config = loadEdgeConfig(options.config);
        const inputs = new TrainingInputStore(join(config.dataDir, 'training-inputs'), config.training.maxImages);
        const labels = await fetchLabels({ hubUrl: config.hubUrl, http: deviceHttp(config) });
        const modelDir = options.model ?? config.model.dir;
        let size: { width: number; height: number; stride: number } | undefined;
        if (modelDir) {
          const { manifest } = await readModelPackage(modelDir);
          size = { width: manifest.input.width, height: manifest.input.height, stride: manifest.output.stride };
        } else {
          const kept = labels.images.map((l) => inputs.get(l.instanceKey)?.meta).find((m) => m !== undefined);
          if (kept) size = { width: kept.width, height: kept.height, stride: 2 };
        }
        if (!size)
          throw new VigilError('VIGIL_CONFIG_INVALID', 'no kept model input matches a label, and no --model to size the set');
        const summary = assembleTrainingSet({ labels, inputs, out: options.out, ...size });
        process.stdout.write(`${JSON.stringify({ out: options.out, labelled: labels.images.length, ...summary })}\n`);
        if (summary.images === 0) process.exitCode = 1;
      } catch (error) {
        reportFatal(error);
      }
    });
  program
    .command('model')
    .description('model packages')
    .command('pack <modelDir>')
    .description('package a model directory with a self-test reference image (its output is recorded with this code)')
    .requiredOption('--reference <file>', 'a DICOM image the model must give the same output on, on every device')
    .requiredOption('--out <file>', 'package file to write (.vpkg)')
    .option('--package-version <semver>', 'package version (default: the manifest version)')
    .option('--score-tolerance <n>', 'allowed score difference in the self-test', '0.002')
    .action(async (modelDir: string, o: { reference: string; out: string; packageVersion?: string; scoreTolerance: string }) => {
      try {
        const packed = await packModel({
          modelDir,
          referenceImage: o.reference,
          out: o.out,
          ...(o.packageVersion ? { version: o.packageVersion } : {}),
          tolerance: { score: Number(o.scoreTolerance), findings: 0 },
        });
        process.stdout.write(`${JSON.stringify(packed)}\n`);
      } catch (error) {
        reportFatal(error);
      }
    });
  addAtRestCommands(program, reportFatal);
  await program.parseAsync(argv);
}

export function reportFatal(error: unknown): void {
  const code = error instanceof VigilError ? error.code : 'VIGIL_INTERNAL';
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`vigil-edge: ${code}: ${message}\n`);
  process.exitCode = 2;
}
