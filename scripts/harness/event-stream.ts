/**
 * Reads a server-sent event stream (the hub's /api/v1/events) the way a browser does, handing each
 * event's raw text to `onEvent`; `done` resolves when the server or `close()` ends the stream.
 */
export async function openEventStream(
  url: string,
  headers: Record<string, string>,
  onEvent: (raw: string) => void,
): Promise<{ status: number; close: () => void; done: Promise<void> }> {
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  const reader = response.body?.getReader();
  const done = (async () => {
    if (!reader) return;
    let text = '';
    try {
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (ended) break;
        text += Buffer.from(value).toString('utf8');
        const events = text.split('\n\n');
        text = events.pop() ?? '';
        for (const e of events) onEvent(e);
      }
    } catch {
      // aborted, or reset by the server
    }
  })();
  return { status: response.status, close: () => abort.abort(), done };
}
