// The dashboard's tables and key figures, rebuilt from each refresh's data. Text only goes
// in through textContent: names and ids come from peers and callers.
import { ago, bytes, clock, count, percent, pflops, yuan } from './format.js';
import { centerCapacity, transferIsActive } from './map.js';

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    e.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  }
  return e;
}

function badge(state) {
  return el('span', { class: `badge state-${state}` }, state);
}

function route(from, to) {
  const arrow = el('span', { class: 'arrow' }, ' → ');
  return el('span', { class: 'route' }, from ?? '—', arrow, to ?? '—');
}

function empty(columns, text) {
  return el('tr', { class: 'empty' }, el('td', { colspan: columns }, text));
}

export function renderCenters(tbody, centers, now) {
  const rows = centers.map((c) => {
    const cap = centerCapacity(c);
    const prices = el('div', { class: 'models' });
    for (const a of c.accelerators ?? []) {
      prices.append(
        el('span', { class: 'model' },
          el('span', { class: 'model-name' }, a.model),
          ` ${count(a.free)}/${count(a.total)} @ ${yuan(a.price_now_per_device_hour_fen)}`),
      );
    }
    const liveness = ['alive', 'suspect', 'dead'].includes(c.liveness) ? c.liveness : 'unknown';
    return el('tr', { 'data-id': c.id, class: `liveness-${liveness}` },
      el('td', {},
        el('div', { class: 'strong' }, c.name ?? c.id),
        el('div', { class: 'muted small' },
          `${c.id} · ${c.city ?? ''}${c.self ? ' · this gateway' : ''}`)),
      el('td', {},
        el('div', {}, c.zone ?? '—'),
        el('div', { class: 'muted small' }, c.hub ?? '')),
      el('td', {}, badge(liveness)),
      el('td', { class: 'num devices' }, `${count(cap.free)}/${count(cap.total)}`),
      el('td', { class: 'num' }, `${pflops(cap.freeTflops)}/${pflops(cap.totalTflops)}`),
      el('td', {}, prices),
      el('td', { class: 'num' }, c.green_share_percent ? `${c.green_share_percent}%` : '—'),
      el('td', { class: 'muted' }, ago(c.last_heard, now)),
    );
  });
  tbody.replaceChildren(...(rows.length ? rows : [empty(8, 'No centers in the view yet.')]));
}

// Per accelerator model across the federation: devices free and the cheapest price now
// among the live centers that have one free.
export function renderModels(tbody, centers) {
  const models = new Map();
  for (const c of centers) {
    for (const a of c.accelerators ?? []) {
      const m = models.get(a.model) ?? { free: 0, total: 0, best: null };
      m.free += a.free;
      m.total += a.total;
      const fen = a.price_now_per_device_hour_fen;
      const offered = c.liveness === 'alive' && a.free > 0 && Number.isSafeInteger(fen);
      if (offered && (m.best === null || fen < m.best.fen)) {
        m.best = { fen, center: c.id };
      }
      models.set(a.model, m);
    }
  }
  const rows = [...models.entries()]
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([model, m]) =>
      el('tr', { 'data-id': model },
        el('td', { class: 'mono' }, model),
        el('td', { class: 'num' }, `${count(m.free)}/${count(m.total)}`),
        el('td', { class: 'num' }, m.best ? `${yuan(m.best.fen)} ` : '—',
          m.best ? el('span', { class: 'muted small' }, `at ${m.best.center}`) : '')));
  tbody.replaceChildren(...(rows.length ? rows : [empty(3, 'No accelerators advertised.')]));
}

export function renderJobs(tbody, jobs, home) {
  const rows = jobs.map((j) => {
    const estimate = j.terms?.estimated_total_fen ?? j.quote?.estimated_total_fen;
    const devices = j.model ? `${j.count ?? ''} × ${j.model}` : '—';
    return el('tr', { 'data-id': j.id },
      el('td', {},
        el('div', { class: 'strong' }, j.name ?? j.id),
        el('div', { class: 'muted small mono' }, j.id)),
      el('td', {}, badge(j.state)),
      el('td', {}, route(home, j.center)),
      el('td', {}, devices),
      el('td', { class: 'num' }, estimate === undefined ? '—' : yuan(estimate)),
      el('td', { class: 'num' }, j.usage ? yuan(j.usage.cost_fen) : '—'),
      el('td', { class: 'muted' }, clock(j.updated_at)),
    );
  });
  tbody.replaceChildren(...(rows.length ? rows : [empty(7, 'No jobs placed from this gateway.')]));
}

export function renderTransfers(tbody, transfers) {
  const rows = transfers.map((t) =>
    el('tr', { 'data-id': t.id },
      el('td', { class: 'mono small' }, t.id),
      el('td', {}, t.name ?? t.dataset),
      el('td', {}, badge(t.state)),
      el('td', {}, route(t.from, t.to)),
      el('td', { class: 'num' },
        `${bytes(t.bytes_done)} / ${bytes(t.total_bytes)} ` +
          `(${percent(t.bytes_done, t.total_bytes)})`),
      el('td', { class: 'muted' }, clock(t.created_at)),
    ));
  const none = empty(6, 'No transfers requested at this gateway.');
  tbody.replaceChildren(...(rows.length ? rows : [none]));
}

function signed(fen) {
  return el('span', { class: fen < 0 ? 'negative' : fen > 0 ? 'positive' : '' }, yuan(fen));
}

export function renderBalances(tbody, tfoot, balances) {
  const rows = (balances.balances ?? []).map((b) =>
    el('tr', { 'data-id': b.counterparty },
      el('td', { class: 'strong' }, b.counterparty),
      el('td', { class: 'num' }, yuan(b.receivable_fen)),
      el('td', { class: 'num' }, yuan(b.payable_fen)),
      el('td', { class: 'num' }, signed(b.net_fen)),
      el('td', { class: 'num' }, count(b.agreed)),
      el('td', { class: 'num' }, count(b.pending)),
      el('td', { class: 'num' }, count(b.disputed)),
    ));
  tbody.replaceChildren(...(rows.length ? rows : [empty(7, 'No settlements yet.')]));
  const t = balances.total;
  tfoot.replaceChildren(
    t
      ? el('tr', {},
        el('td', {}, 'Total'),
        el('td', { class: 'num' }, yuan(t.receivable_fen)),
        el('td', { class: 'num' }, yuan(t.payable_fen)),
        el('td', { class: 'num' }, signed(t.net_fen)),
        el('td', { colspan: 3 }))
      : '',
  );
}

function kpi(label, value, detail) {
  return el('div', { class: 'kpi' },
    el('div', { class: 'kpi-label' }, label),
    el('div', { class: 'kpi-value' }, value),
    el('div', { class: 'kpi-detail muted' }, detail ?? ''));
}

// The figures above the map: the federation's size and health, and the role's own.
export function renderKpis(holder, { centers, jobs, transfers, balances }) {
  let free = 0;
  let total = 0;
  let freeT = 0;
  let totalT = 0;
  let cheapest = null;
  const live = { alive: 0, suspect: 0, dead: 0 };
  for (const c of centers) {
    const cap = centerCapacity(c);
    free += cap.free;
    total += cap.total;
    freeT += cap.freeTflops ?? 0;
    totalT += cap.totalTflops ?? 0;
    if (cap.cheapest !== null && (cheapest === null || cap.cheapest < cheapest.fen)) {
      cheapest = { fen: cap.cheapest, center: c.id };
    }
    if (c.liveness in live) live[c.liveness] += 1;
  }
  const items = [
    kpi('Centers alive', `${live.alive}/${centers.length}`,
      live.suspect + live.dead ? `${live.suspect} suspect · ${live.dead} dead` : 'all reachable'),
    kpi('Accelerators free', `${count(free)}/${count(total)}`, 'devices across the federation'),
    kpi('Compute free', `${pflops(freeT)}/${pflops(totalT)}`, 'PFLOPS, dense FP16'),
    kpi('Cheapest now', cheapest ? yuan(cheapest.fen) : '—',
      cheapest ? `per device-hour at ${cheapest.center}` : ''),
  ];
  if (jobs) {
    const running = jobs.filter((j) => j.state === 'running').length;
    const placed = jobs.filter((j) => ['placing', 'held', 'committed'].includes(j.state)).length;
    items.push(
      kpi('Jobs running', count(running), `${placed} being placed · ${jobs.length} listed`));
  }
  if (transfers) {
    const moving = transfers.filter(transferIsActive).length;
    items.push(kpi('Transfers moving', count(moving), `${transfers.length} listed`));
  }
  if (balances?.total) {
    items.push(kpi('Net position', yuan(balances.total.net_fen),
      `of ${balances.self} with the federation`));
  }
  holder.replaceChildren(...items);
}
