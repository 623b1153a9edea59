// Worker-thread entry for the demo's simulated modalities: renders a study's images (TypeScript through tsx).
import { register } from 'tsx/esm/api';

register();
const { renderStudyFiles } = await import('./modality-simulator.ts');

export default renderStudyFiles;
