// Live updates: the server's event stream (GET /api/live) says which traces got new
// spans; the page re-fetches what it shows.

/** Subscribes; `onTraces({changed, total})` per event, `onStatus(connected)` on (dis)connect. */
export function connectLive({ onTraces, onStatus }) {
  if (typeof EventSource === 'undefined') {
    onStatus(false);
    return () => {};
  }
  // EventSource reconnects by itself after an error.
  const source = new EventSource('/api/live');
  source.addEventListener('open', () => onStatus(true));
  source.addEventListener('error', () => onStatus(source.readyState === EventSource.OPEN));
  source.addEventListener('traces', (event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    onTraces(data);
  });
  return () => source.close();
}
