// The dashboard: asks for a token, learns its role from GET /v1/whoami, then refreshes
// what that role may see every two seconds (one refresh at a time, never overlapping).
import { ApiError, getJson } from './api.js';
import { clock } from './format.js';
import { FederationMap, jobIsActive, transferIsActive } from './map.js';
import {
  renderBalances, renderCenters, renderJobs, renderKpis, renderModels, renderTransfers,
} from './tables.js';

const kTokenKey = 'edwc.token';
const kRefreshMs = 2000;

// What each role may read (the gateway enforces it; the page only avoids asking for the rest).
const kPanels = {
  viewer: { jobs: false, transfers: false, balances: false },
  broker: { jobs: true, transfers: true, balances: false },
  operator: { jobs: true, transfers: true, balances: false },
  finance: { jobs: false, transfers: false, balances: true },
};

const $ = (id) => document.getElementById(id);

const state = {
  token: null,
  whoami: null,
  generation: 0,  // bumped at sign-in and sign-out: answers of an older session are dropped
  timer: null,
  map: null,
};

function showSignIn(message) {
  $('dashboard').hidden = true;
  $('session').hidden = true;
  $('signin').hidden = false;
  const error = $('signin-error');
  error.hidden = !message;
  error.textContent = message ?? '';
  $('token').value = '';
  $('token').focus();
}

// Forgets what the last session saw, so that the next role never finds it in the page.
function clearData() {
  for (const table of ['centers-table', 'models-table', 'jobs-table', 'transfers-table',
    'balances-table']) {
    for (const section of $(table).querySelectorAll('tbody, tfoot')) section.replaceChildren();
  }
  $('kpis').replaceChildren();
  $('errors').replaceChildren();
  state.map?.render([], []);
}

function signOut(message) {
  state.generation += 1;
  clearTimeout(state.timer);
  state.token = null;
  state.whoami = null;
  sessionStorage.removeItem(kTokenKey);
  document.body.dataset.role = '';
  clearData();
  showSignIn(message);
}

function refusedMessage(e) {
  return e.status === 401
    ? `The gateway refused this token (401 ${e.code}): ${e.message}`
    : `Sign-in failed (${e.status || 'no answer'}): ${e.message}`;
}

async function signIn(token) {
  const generation = ++state.generation;
  $('signin-submit').disabled = true;
  try {
    const whoami = await getJson('/v1/whoami', token);
    if (generation !== state.generation) return;
    if (!(whoami.role in kPanels)) {
      throw new ApiError(200, 'unknown_role', `unknown role '${whoami.role}'`);
    }
    state.token = token;
    state.whoami = whoami;
    sessionStorage.setItem(kTokenKey, token);
    startDashboard(generation);
  } catch (e) {
    if (generation !== state.generation) return;
    sessionStorage.removeItem(kTokenKey);
    showSignIn(refusedMessage(e));
  } finally {
    $('signin-submit').disabled = false;
  }
}

function startDashboard(generation) {
  const { role, name, center } = state.whoami;
  const panels = kPanels[role];
  document.body.dataset.role = role;
  $('signin').hidden = true;
  $('dashboard').hidden = false;
  $('session').hidden = false;
  $('who').textContent = `${name} · ${role} @ ${center}`;
  $('updated').textContent = 'loading…';
  $('jobs-panel').hidden = !panels.jobs;
  $('transfers-panel').hidden = !panels.transfers;
  $('balances-panel').hidden = !panels.balances;
  for (const li of document.querySelectorAll('.legend .for-flows')) li.hidden = !panels.jobs;
  clearData();
  document.body.dataset.loaded = '';
  if (!state.map) state.map = new FederationMap($('map-holder'));
  refresh(generation);
}

function showErrors(messages) {
  $('errors').replaceChildren(
    ...messages.map((m) => {
      const p = document.createElement('p');
      p.className = `error ${m.level}`;
      p.textContent = m.text;
      return p;
    }),
  );
}

// One refresh: every endpoint of the role in parallel, then the page from the answers.
async function refresh(generation) {
  const token = state.token;
  const home = state.whoami.center;
  const panels = kPanels[state.whoami.role];
  const asks = { centers: getJson('/v1/centers', token) };
  if (panels.jobs) asks.jobs = getJson('/v1/jobs?limit=200', token);
  if (panels.transfers) asks.transfers = getJson('/v1/transfers', token);
  if (panels.balances) asks.balances = getJson('/v1/balances', token);
  const keys = Object.keys(asks);
  const settled = await Promise.allSettled(Object.values(asks));
  if (generation !== state.generation) return;

  const got = {};
  const errors = [];
  keys.forEach((k, i) => {
    const s = settled[i];
    if (s.status === 'fulfilled') got[k] = s.value;
    else errors.push({ key: k, error: s.reason });
  });
  const refused = errors.find((e) => e.error instanceof ApiError && e.error.status === 401);
  if (refused) {
    signOut(`Signed out: the gateway no longer accepts this token (401): ${refused.error.message}`);
    return;
  }
  const messages = errors.map(({ key, error }) => ({
    level: 'bad',
    text: `Could not read ${key} from ${home}: ${error.message}` +
      (error.status ? ` (${error.status})` : ''),
  }));
  const now = Date.now();
  try {
    render(got, home, now, messages);
  } catch (e) {
    messages.push({ level: 'bad', text: `Could not show the answers: ${e.message}` });
  }
  showErrors(messages);
  const stamp = `updated ${clock(new Date(now))}`;
  $('updated').textContent =
    errors.length ? `${stamp} · ${errors.length} failed, retrying` : stamp;
  $('updated').classList.toggle('stale', errors.length > 0);
  document.body.dataset.loaded = 'true';
  state.timer = setTimeout(() => refresh(generation), kRefreshMs);
}

function render(got, home, now, messages) {
  if (got.centers) {
    const centers = got.centers.centers ?? [];
    for (const c of centers) {
      if (c.liveness === 'alive') continue;
      messages.push({
        level: c.liveness === 'dead' ? 'bad' : 'warn',
        text:
          `${c.name ?? c.id} (${c.id}) is ${c.liveness}: ` +
          `${home} last heard from it at ${clock(c.last_heard)}; ` +
          (c.liveness === 'dead'
            ? 'no work is placed there until it is heard from again.'
            : 'its capacity and prices may be out of date.'),
      });
    }
    const jobs = got.jobs?.jobs;
    const transfers = got.transfers?.transfers;
    const flows = [];
    for (const j of jobs ?? []) {
      if (j.center) {
        flows.push({ from: home, to: j.center, kind: 'job', id: j.id, active: jobIsActive(j),
          label: `job ${j.name ?? j.id}: ${home} → ${j.center} (${j.state})` });
      }
    }
    for (const t of transfers ?? []) {
      flows.push({ from: t.from, to: t.to, kind: 'transfer', id: t.id, active: transferIsActive(t),
        label: `transfer ${t.name ?? t.id}: ${t.from} → ${t.to} (${t.state})` });
    }
    // Finished flows first, so that the animated ones are drawn on top.
    flows.sort((a, b) => Number(a.active) - Number(b.active));
    state.map.render(centers, flows);
    renderCenters($('centers-table').tBodies[0], centers, now);
    renderModels($('models-table').tBodies[0], centers);
    renderKpis($('kpis'), { centers, jobs, transfers, balances: got.balances });
    if (jobs) {
      renderJobs($('jobs-table').tBodies[0], jobs, home);
      $('jobs-note').textContent = got.jobs.next ? 'newest 200' : '';
    }
    if (transfers) renderTransfers($('transfers-table').tBodies[0], transfers);
  }
  if (got.balances) {
    renderBalances($('balances-table').tBodies[0], $('balances-table').tFoot, got.balances);
    $('balances-note').textContent = `agreed settlements of ${got.balances.self}`;
  }
}

function main() {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token').value.trim();
    if (token) signIn(token);
  });
  $('sign-out').addEventListener('click', () => signOut());
  const saved = sessionStorage.getItem(kTokenKey);
  if (saved) signIn(saved);
  else showSignIn();
}

main();
