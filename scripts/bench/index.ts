// `npm run bench`: one JSON object per benchmark on stdout, progress on stderr.
process.env.VIGIL_LOG_LEVEL ??= 'warn';

// `npm run bench -- backbone` runs only the named benchmarks.
import { cliError, parseCli } from '../cli-args.js';
import { benchApi } from './api.js';
import { benchBackbone } from './backbone.js';
import { benchDecode } from './decode.js';
import { benchDicom } from './dicom.js';
import { benchPipeline } from './pipeline.js';
import { benchQueryLayer } from './query-layer.js';

const BENCHES: Record<string, () => Promise<Record<string, unknown>>> = {
  backbone: benchBackbone,
  api: benchApi,
  pipeline: benchPipeline,
  decode: benchDecode,
  'query-layer': benchQueryLayer,
  dicom: benchDicom,
};

const { positionals: wanted } = parseCli(
  `usage: npm run bench [-- NAME …]   (${Object.keys(BENCHES).join(', ')}; all when none is named)
One JSON object per benchmark on stdout, each with its same-run baseline and ratio; progress on stderr.`,
  { allowPositionals: true, options: {} },
);
const unknown = wanted.filter((w) => !(w in BENCHES));
if (unknown.length > 0) cliError(`no benchmark named ${unknown.join(', ')} (${Object.keys(BENCHES).join(', ')})`);
for (const [name, run] of Object.entries(BENCHES)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const result = await run();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
process.exit(0);
