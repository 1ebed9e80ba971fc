// The viewer's HTTP API (insight/src/view/API.md), same origin only.

/** An error answer of the server. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === '' || value === false) continue;
    search.set(key, value === true ? '1' : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

async function request(path, { signal, as = 'json' } = {}) {
  const response = await fetch(path, { signal, headers: { Accept: as === 'json' ? 'application/json' : 'text/plain' } });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.text();
      if (body) {
        try { message = JSON.parse(body).error || body; } catch { message = body; }
      }
    } catch { /* the status is the message */ }
    throw new ApiError(response.status, message);
  }
  return as === 'json' ? response.json() : response.text();
}

const seg = encodeURIComponent;

/** The trace list: `params` as in API.md (q, service, model, errors, sort, ...). */
export function traces(params, signal) {
  return request(`/api/traces${query(params)}`, { signal });
}

/** One trace with its spans. */
export function trace(traceId, signal) {
  return request(`/api/traces/${seg(traceId)}`, { signal });
}

/** One span's details (attributes, events, conversation, states, ...). */
export function span(traceId, spanId, signal) {
  return request(`/api/traces/${seg(traceId)}/spans/${seg(spanId)}`, { signal });
}

/** The full text of an attribute the server cut. */
export function attribute(traceId, spanId, key) {
  return request(`/api/traces/${seg(traceId)}/spans/${seg(spanId)}/attr/${seg(key)}`, { as: 'text' });
}

/** The causal flow of a trace. */
export function flow(traceId, signal) {
  return request(`/api/traces/${seg(traceId)}/flow`, { signal });
}

/** Two traces aligned by span structure. */
export function compare(a, b, signal) {
  return request(`/api/compare${query({ a, b })}`, { signal });
}

/** Index statistics. */
export function stats(signal) {
  return request('/api/stats', { signal });
}
