// Baseline broker for the backbone benchmark: plain aedes (no auth, no ingest) in its own process,
// like the hub, on the port given as the first argument.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => broker.close(() => server.close(() => process.exit(0))));
