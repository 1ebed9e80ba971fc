// Formatting of durations, tokens, money and times for display.

/** A duration in nanoseconds, e.g. `1.23 s`, `45.6 ms`, `12 µs`. */
export function duration(ns) {
  if (ns === null || ns === undefined || Number.isNaN(ns)) return '–';
  const abs = Math.abs(ns);
  if (abs >= 60e9) {
    const m = Math.floor(abs / 60e9);
    const s = Math.round((abs - m * 60e9) / 1e9);
    return `${ns < 0 ? '-' : ''}${m} min ${s} s`;
  }
  if (abs >= 1e9) return `${trim(ns / 1e9)} s`;
  if (abs >= 1e6) return `${trim(ns / 1e6)} ms`;
  if (abs >= 1e3) return `${trim(ns / 1e3)} µs`;
  return `${Math.round(ns)} ns`;
}

function trim(value) {
  const abs = Math.abs(value);
  return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}

/** A signed duration delta, e.g. `+12 ms`. */
export function durationDelta(ns) {
  if (!ns) return '±0';
  return `${ns > 0 ? '+' : '-'}${duration(Math.abs(ns))}`;
}

/** A count with thousands separators; `–` when unknown. */
export function count(n) {
  if (n === null || n === undefined) return '–';
  return Number(n).toLocaleString('en-US');
}

/** A compact count: 1234 -> `1.2k`. */
export function compact(n) {
  if (n === null || n === undefined) return '–';
  const abs = Math.abs(n);
  if (abs >= 1e6) return `${(n / 1e6).toFixed(abs >= 1e7 ? 0 : 1)}M`;
  if (abs >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** A signed count delta. */
export function countDelta(n) {
  if (!n) return '±0';
  return `${n > 0 ? '+' : ''}${count(n)}`;
}

/** Money in USD: the server's text when given, else from the number; `–` when unknown. */
export function cost(usd, text) {
  if (text) return text;
  if (usd === null || usd === undefined) return '–';
  return usd >= 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(6)}`;
}

/** A signed money delta. */
export function costDelta(usd) {
  if (usd === null || usd === undefined) return '–';
  if (!usd) return '±$0';
  return `${usd > 0 ? '+' : '-'}${cost(Math.abs(usd))}`;
}

/** An absolute time from a string of unix nanoseconds, in local time. */
export function time(unixNano) {
  if (!unixNano || !/^\d+$/.test(unixNano)) return '–';
  const ms = Number(BigInt(unixNano) / 1000000n);
  const date = new Date(ms);
  const pad = (v, n = 2) => String(v).padStart(n, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** Short id for display. */
export function shortId(id) {
  return id ? String(id).slice(0, 8) : '';
}

/** Compact one-line JSON of a value, cut at `limit` characters. */
export function brief(value, limit = 160) {
  let text;
  if (typeof value === 'string') text = value;
  else {
    try { text = JSON.stringify(value); } catch { text = String(value); }
  }
  if (text === undefined) text = String(value);
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}
