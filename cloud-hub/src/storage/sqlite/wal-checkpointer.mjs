// Checkout only: the checkpointer's TypeScript runs through tsx, registered in this thread.
import { register } from 'tsx/esm/api';

register();
await import('./wal-checkpointer.ts');
