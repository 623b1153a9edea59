// Checkout only: the decode worker's TypeScript runs through tsx, registered in this thread.
import { register } from 'tsx/esm/api';

register();
const { default: decode } = await import('./decode-worker.ts');
export default decode;
