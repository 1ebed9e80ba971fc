// The context explorer: everything about one span. The GenAI content as a
// conversation (system instructions, messages by role, tool calls with their
// arguments, tool results, reasoning), state snapshots with their diffs, the tool
// call links, and every attribute, event, link and resource attribute.

import * as api from './api.js';
import { el, note, longText } from './dom.js';
import * as fmt from './format.js';
import { jsonView, parseJsonText } from './json.js';
import { renderStates } from './state.js';
import { kindClass } from './waterfall.js';

/**
 * The panel of span `detail` (GET .../spans/<id>) of trace `traceId`; `brief` is the
 * span's row of the trace (status, timing) and `onSelect(spanId)` opens another span.
 */
export function renderContext(detail, { traceId, brief = {}, onSelect }) {
  const span = { ...brief, ...detail };
  const isTool = span.operation === 'execute_tool';
  const links = detail.tool_call_links || [];
  const linkByCall = new Map(links.filter((l) => l.tool_call_id).map((l) => [l.tool_call_id, l]));
  const loadFull = (key) => () => api.attribute(traceId, span.span_id, key);
  const spanLink = (spanId, label, testid) => el('button', {
    type: 'button', class: 'link', testid, data: { spanId },
    on: { click: () => onSelect(spanId) },
  }, label);

  return el('article', { class: 'context', testid: 'context', data: { spanId: span.span_id } },
    header(span),
    links.length ? el('div', { class: 'tool-links', testid: 'tool-links' },
      el('span', { class: 'muted' }, isTool ? 'asked for by ' : 'tool calls it asked for: '),
      links.map((l) => {
        // Without captured content the server links by timing: say so.
        const how = l.inferred ? 'inferred from timing' : l.tool_call_id;
        return spanLink(l.span_id, isTool ? `← ${l.name || 'LLM call'} (${how})` : `→ ${l.name || 'tool'} (${how})`, 'tool-link');
      })) : null,
    conversation(detail.conversation, { linkByCall, spanLink, isTool }),
    detail.states && detail.states.length
      ? section('State', detail.states.length, renderStates(detail.states), 'state-section')
      : null,
    section('Attributes', (detail.attributes || []).length, keyValues(detail.attributes, loadFull, 'attr-row'), 'attributes'),
    section('Events', (detail.events || []).length, events(detail.events), 'events', (detail.events || []).length > 0),
    section('Links', (detail.links || []).length, spanLinks(detail.links), 'links', (detail.links || []).length > 0),
    section('Resource', (detail.resource || []).length, keyValues(detail.resource, null, 'resource-row'), 'resource', false),
    detail.scope ? section('Scope', null, el('div', { class: 'kv' }, el('span', { class: 'mono' }, detail.scope.name || '–'), ' ', el('span', { class: 'muted' }, detail.scope.version || '')), 'scope', false) : null);
}

function header(span) {
  const status = span.status || 'unset';
  return el('header', { class: 'context-head' },
    el('div', { class: 'title' },
      el('span', { class: ['op', kindClass(span)] }, span.operation || String(span.kind || 'span').toLowerCase()),
      el('h2', { testid: 'context-name' }, span.name)),
    el('div', { class: 'facts' },
      fact('status', el('span', { class: `status-${status}`, testid: 'context-status' }, status)),
      span.error_text || span.status_message ? fact('error', el('span', { class: 'error-text', testid: 'context-error' }, span.error_text || span.status_message)) : null,
      span.orphan ? fact('', el('span', { class: 'flag orphan' }, 'orphan: its parent is not in the files')) : null,
      span.cancelled ? fact('', el('span', { class: 'flag cancelled' }, 'cancelled')) : null,
      fact('duration', fmt.duration(span.duration_ns)),
      fact('start', `+${fmt.duration(span.start_offset_ns)}`),
      span.service ? fact('service', span.service) : null,
      span.model ? fact('model', span.model) : null,
      fact('span', el('span', { class: 'mono' }, span.span_id)),
      span.parent_span_id ? fact('parent', el('span', { class: 'mono' }, span.parent_span_id)) : null,
      span.critical ? fact('', el('span', { class: 'flag critical' }, 'critical path')) : null));
}

function fact(label, value) {
  return el('span', { class: 'fact' }, label ? el('span', { class: 'muted' }, `${label} `) : null, value);
}

function section(title, count, body, testid, open = true) {
  const details = el('details', { class: 'section', testid },
    el('summary', {}, title, count !== null && count !== undefined ? el('span', { class: 'count' }, ` ${count}`) : null),
    body);
  details.open = open;
  return details;
}

/** A value of an attribute: JSON folded, long text cut with "show all". */
export function valueView(value, { truncated = false, loadFull = null } = {}) {
  if (typeof value === 'string') {
    const parsed = parseJsonText(value);
    if (parsed !== undefined && !truncated) {
      return el('div', {}, jsonView(parsed, { openDepth: 1 }),
        el('details', { class: 'raw' }, el('summary', {}, 'raw'), longText(value, { limit: 4000 })));
    }
    return longText(value, { limit: 400, truncated, loadFull, tag: 'pre' });
  }
  if (value !== null && typeof value === 'object') return jsonView(value, { openDepth: 1 });
  return el('span', { class: value === null ? 'j-null' : typeof value === 'number' ? 'j-num' : 'j-bool' }, String(value));
}

function keyValues(items, loadFull, testid) {
  if (!items || items.length === 0) return note('none');
  return el('div', { class: 'kv-table' }, items.map((item) => el('div', { class: 'kv', testid, data: { key: item.key } },
    el('div', { class: 'k mono', title: item.key }, item.key),
    el('div', { class: 'v' }, valueView(item.value, { truncated: !!item.truncated, loadFull: loadFull ? loadFull(item.key) : null })))));
}

function events(items) {
  if (!items || items.length === 0) return note('none');
  return el('div', { class: 'events' }, items.map((event) => el('div', { class: 'event', testid: 'event' },
    el('div', { class: 'event-head' }, el('span', { class: 'strong' }, event.name), el('span', { class: 'muted' }, ` +${fmt.duration(event.offset_ns)}`)),
    (event.attributes || []).length ? keyValues(event.attributes, null, 'event-attr') : null)));
}

function spanLinks(items) {
  if (!items || items.length === 0) return note('none');
  return el('div', { class: 'events' }, items.map((link) => el('div', { class: 'event', testid: 'span-link' },
    el('div', {}, el('a', { class: 'mono', href: `#/trace/${link.trace_id}?span=${link.span_id}` }, `${link.trace_id} / ${link.span_id}`)),
    (link.attributes || []).length ? keyValues(link.attributes, null, 'link-attr') : null)));
}

function conversation(conv, ctx) {
  if (!conv) return null;
  const { system_instructions: system, input_messages: input, output_messages: output, tool_definitions: tools } = conv;
  if (!system && !input && !output && !tools) return null;
  const body = el('div', { class: 'conversation' },
    system ? message({ role: 'system', parts: system }, ctx) : null,
    input ? el('div', { class: 'conv-group', testid: 'conv-input' }, el('div', { class: 'conv-label' }, 'input'), input.map((m) => message(m, ctx))) : null,
    output ? el('div', { class: 'conv-group', testid: 'conv-output' }, el('div', { class: 'conv-label' }, 'output'), output.map((m) => message(m, ctx))) : null,
    tools ? toolDefinitions(tools) : null);
  return section('Conversation', null, body, 'conversation');
}

function message(msg, ctx) {
  if (!msg || typeof msg !== 'object') return el('div', { class: 'msg' }, valueView(msg));
  const role = String(msg.role || 'unknown');
  let parts = msg.parts;
  if (!Array.isArray(parts)) parts = msg.content !== undefined ? [{ type: 'text', content: msg.content }] : [];
  return el('div', { class: ['msg', `role-${role.replace(/[^a-z_]/gi, '')}`], testid: 'message', data: { role } },
    el('div', { class: 'msg-head' }, el('span', { class: 'role' }, role),
      msg.name ? el('span', { class: 'muted' }, ` ${msg.name}`) : null,
      msg.finish_reason ? el('span', { class: 'chip', title: 'finish reason' }, msg.finish_reason) : null),
    parts.map((part) => messagePart(part, ctx)));
}

function messagePart(part, ctx) {
  if (!part || typeof part !== 'object') return el('div', { class: 'part' }, valueView(part));
  const type = String(part.type || '');
  switch (type) {
    case 'text':
      return el('div', { class: 'part part-text', testid: 'part-text' }, longText(part.content ?? '', { limit: 4000 }));
    case 'reasoning':
      return el('div', { class: 'part part-reasoning', testid: 'part-reasoning' }, el('div', { class: 'part-label' }, 'reasoning'), longText(part.content ?? '', { limit: 4000 }));
    case 'tool_call': {
      const link = ctx.linkByCall.get(part.id);
      return el('div', { class: 'part part-tool-call', testid: 'part-tool-call', data: { toolCallId: part.id || '' } },
        el('div', { class: 'part-label' }, 'tool call ', el('span', { class: 'strong' }, part.name || ''), el('span', { class: 'muted mono' }, ` ${part.id || ''}`),
          link && !ctx.isTool ? ctx.spanLink(link.span_id, ' → open the tool span', 'tool-call-link') : null),
        argumentsView(part.arguments));
    }
    case 'tool_call_response': {
      const link = ctx.linkByCall.get(part.id);
      return el('div', { class: 'part part-tool-result', testid: 'part-tool-result', data: { toolCallId: part.id || '' } },
        el('div', { class: 'part-label' }, 'tool result', el('span', { class: 'muted mono' }, ` ${part.id || ''}`),
          link ? ctx.spanLink(link.span_id, ' → the span that made it', 'tool-result-link') : null),
        argumentsView(part.response ?? part.result));
    }
    default:
      return el('div', { class: 'part' }, el('div', { class: 'part-label' }, type || 'part'), jsonView(part, { openDepth: 1 }));
  }
}

function argumentsView(value) {
  if (value === undefined) return null;
  if (typeof value === 'string') {
    const parsed = parseJsonText(value);
    if (parsed !== undefined) return jsonView(parsed, { openDepth: 3 });
    return longText(value, { limit: 4000 });
  }
  return jsonView(value, { openDepth: 3 });
}

function toolDefinitions(tools) {
  const list = Array.isArray(tools) ? tools : [tools];
  const details = el('details', { class: 'conv-group', testid: 'tool-definitions' },
    el('summary', { class: 'conv-label' }, `tool definitions (${list.length})`),
    list.map((tool) => el('div', { class: 'tool-def' },
      el('div', {}, el('span', { class: 'strong' }, tool && tool.name ? tool.name : '(unnamed)'), tool && tool.description ? el('span', { class: 'muted' }, ` — ${tool.description}`) : null),
      jsonView(tool, { openDepth: 0 }))));
  return details;
}
