// The status bar: GET /api/v1/status every 2 s, whatever screen is shown.
// A cashier must see at a glance that the till still records sales (it
// always does, offline or not) and whether its sales are leaving the till.
// Polls are chained with setTimeout, not setInterval, so a slow terminal
// never gets a second poll while the first is still waiting.

import { api } from './api.js';
import { $ } from './dom.js';

const PERIOD_MS = 2000;

// Update text only when it changes: fewer repaints, and assistive
// technology is not told the same thing every 2 s.
function set(el, text, cls) {
  if (el.textContent !== text) el.textContent = text;
  const want = `st-item ${cls || ''}`.trim();
  if (el.className !== want) el.className = want;
}

function render(s) {
  $('st-unreachable').hidden = true;
  $('status-bar').classList.remove('stale');
  set($('st-terminal'), `${s.store} · ${s.node}`);
  set($('st-net'), s.online ? 'Online' : 'Offline', s.online ? 'st-ok' : 'st-warn');
  const pending = Number.isInteger(s.pending_ops) ? s.pending_ops : 0;
  set($('st-sync'), pending === 0 ? 'Sync: up to date' : `Sync: ${pending} pending`, pending === 0 ? 'st-ok' : 'st-warn');
  // Store coordination (cloud upload, roster and settings) needs a leader a
  // majority follows; selling never does, so the bar says both.
  const raft = s.raft && typeof s.raft === 'object' ? s.raft : null;
  const paused = raft && raft.coordination === 'paused';
  let leader = s.leader && s.leader.node
    ? `Leader: ${s.leader.node}${Number.isInteger(s.leader.term) ? ` (term ${s.leader.term})` : ''}`
    : 'No leader';
  if (paused) leader = `${leader}: store coordination paused (${raft.why || 'no quorum'}); sales go on`;
  set($('st-leader'), leader, s.leader && s.leader.node && !paused ? '' : 'st-warn');
  const cloud = (s.cloud && s.cloud.state) || 'unknown';
  const cloudText = {
    not_configured: 'Cloud: not configured',
    offline: 'Cloud: offline',
    online: 'Cloud: online',
  }[cloud] || `Cloud: ${cloud}`;
  const up = s.cloud && Number.isInteger(s.cloud.pending_upload_ops) && s.cloud.pending_upload_ops > 0
    ? ` (${s.cloud.pending_upload_ops} to upload)` : '';
  set($('st-cloud'), cloudText + up, cloud === 'online' ? 'st-ok' : cloud === 'offline' ? 'st-warn' : '');
}

// Keep the last known values, greyed out: they are no longer current.
function renderUnreachable() {
  $('st-unreachable').hidden = false;
  $('status-bar').classList.add('stale');
}

export function startStatusPolling() {
  async function tick() {
    try {
      render(await api.status());
    } catch {
      renderUnreachable();
    }
    setTimeout(tick, PERIOD_MS);
  }
  tick();
}
