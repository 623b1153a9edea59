import { spawn } from 'node:child_process';

/** Runs a training script with Debian's python3; each stdout line is a JSON progress record, logged and returned. */
export function runPython(args: string[], log: (line: string) => void): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: Record<string, unknown>[] = [];
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts.filter(Boolean)) {
        log(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
    child.once('exit', (code) => (code === 0 ? resolve(lines) : reject(new Error(`train.py exited with ${code}`))));
  });
}
