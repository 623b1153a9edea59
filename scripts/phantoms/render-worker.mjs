// Worker-thread entry for the phantom generator: renders one patient (TypeScript through tsx).
import { register } from 'tsx/esm/api';

register();
const { renderPatient } = await import('./generate-phantoms.ts');

export default renderPatient;
