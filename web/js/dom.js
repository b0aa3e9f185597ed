// Small DOM helpers, so the views read as markup rather than as a pile of
// createElement calls. Text always goes through textContent (never
// innerHTML): item names come from a CSV anyone can edit.

/**
 * h('button', {type: 'button', class: 'x', onclick: fn, 'aria-label': 'y'}, 'text', child)
 * Attributes starting with "on" become listeners; `dataset` merges data-*.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);

/** A message for people from any error (ApiError carries the API's text). */
export function describeError(err) {
  if (!err) return 'Something went wrong.';
  if (err.name === 'ApiError') {
    if (err.status === 0) return err.message;
    return `${err.message} (${err.code})`;
  }
  return err.message || String(err);
}

/**
 * Re-render part of the page without losing the keyboard user's place:
 * controls carry data-focus-key, and whichever had focus before is focused
 * again afterwards (or, if it is gone, `fallback`).
 */
export function keepFocus(container, render, fallback) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focusKey : undefined;
  const hadFocus = active && container.contains(active);
  render();
  if (!hadFocus) return;
  const again = key && container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  if (again && !again.disabled) again.focus();
  else if (fallback) fallback();
}

/**
 * A wall-clock time for people: "14:03:27" today, "2024-05-01 14:03:27"
 * another day; without seconds ("14:03") when `seconds` is false.
 */
export function timeText(ms, { seconds = true } = {}) {
  const d = new Date(ms);
  const now = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ''}`;
  return d.toDateString() === now.toDateString() ? hm : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}
