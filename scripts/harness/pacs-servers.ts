// Real PACS peers for the edge's results-to-PACS tests: dcmtk's storescp and Debian's Orthanc with
// its DICOMweb plugin (STOW-RS), each on free loopback ports with its own directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { onProcessEnd } from './process-end.js';
import { makeTempDir } from './temp-dir.js';
import { waitFor } from './wait-for.js';

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** dcmtk's storescp: every instance it receives becomes a file (unique names, so a duplicate shows). */
export class StoreScp {
  private process: ChildProcess | undefined;
  readonly dir = makeTempDir('storescp');
  private readonly forget = onProcessEnd(() => {
    this.process?.kill('SIGKILL');
    this.dir.remove();
  });
  port = 0;
  readonly aeTitle = 'STORESCP';

  /** Picks the port without listening yet (a destination that is down, started later). */
  async reserve(): Promise<number> {
    if (!this.port) this.port = await freePort();
    return this.port;
  }

  async start(): Promise<void> {
    await this.reserve();
    this.process = spawn('storescp', ['-aet', this.aeTitle, '+uf', '-od', this.dir.path, String(this.port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.process.stderr?.resume();
    await waitFor('storescp listening', () => listening(this.port), 20_000);
  }

  /** The files received so far. */
  files(): string[] {
    return existsSync(this.dir.path) ? readdirSync(this.dir.path).map((f) => join(this.dir.path, f)) : [];
  }

  async stop(): Promise<void> {
    const p = this.process;
    this.process = undefined;
    if (p && p.exitCode === null) {
      p.kill('SIGTERM');
      await new Promise((resolve) => p.once('exit', resolve));
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.forget();
    this.dir.remove();
  }
}

/** Debian's Orthanc with the DICOMweb plugin: DIMSE on one port, REST and STOW-RS on another. */
export class OrthancServer {
  private process: ChildProcess | undefined;
  readonly dir = makeTempDir('orthanc');
  private readonly forget = onProcessEnd(() => {
    this.process?.kill('SIGKILL');
    this.dir.remove();
  });
  httpPort = 0;
  dicomPort = 0;
  readonly aeTitle = 'ORTHANC';

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  async start(): Promise<void> {
    this.httpPort = await freePort();
    this.dicomPort = await freePort();
    const config = join(this.dir.path, 'orthanc.json');
    writeFileSync(
      config,
      JSON.stringify({
        Name: 'vigil-test-pacs',
        StorageDirectory: join(this.dir.path, 'storage'),
        IndexDirectory: join(this.dir.path, 'index'),
        HttpPort: this.httpPort,
        DicomPort: this.dicomPort,
        DicomAet: this.aeTitle,
        // A called AE title other than ORTHANC is refused (the refusal tests rely on it).
        DicomCheckCalledAet: true,
        RemoteAccessAllowed: false,
        AuthenticationEnabled: false,
        HttpServerEnabled: true,
        Plugins: ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so'],
        DicomWeb: { Enable: true, Root: '/dicom-web/' },
      }),
    );
    this.process = spawn(existsSync('/usr/sbin/Orthanc') ? '/usr/sbin/Orthanc' : 'Orthanc', [config], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.process.stderr?.resume();
    await waitFor(
      'Orthanc answering',
      async () => {
        try {
          return (await fetch(`${this.url}/system`)).ok;
        } catch {
          return false;
        }
      },
      60_000,
    );
  }

  /** Instances stored, with their SOP Instance UID and modality. */
  async instances(): Promise<{ id: string; sopInstanceUid: string; modality: string }[]> {
    const ids = (await (await fetch(`${this.url}/instances`)).json()) as string[];
    const out = [];
    for (const id of ids) {
      const tags = (await (await fetch(`${this.url}/instances/${id}/simplified-tags`)).json()) as Record<string, string>;
      out.push({ id, sopInstanceUid: tags.SOPInstanceUID ?? '', modality: tags.Modality ?? '' });
    }
    return out;
  }

  async file(id: string): Promise<Buffer> {
    return Buffer.from(await (await fetch(`${this.url}/instances/${id}/file`)).arrayBuffer());
  }

  async dispose(): Promise<void> {
    const p = this.process;
    this.process = undefined;
    if (p && p.exitCode === null) {
      p.kill('SIGTERM');
      await new Promise((resolve) => p.once('exit', resolve));
    }
    this.forget();
    this.dir.remove();
  }
}
