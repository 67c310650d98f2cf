// The federation map: China's outline (made at build time, see build.mjs), every center at
// its location coloured by liveness with its capacity and price now, and arcs for jobs
// (home -> executing center) and transfers (from -> to). Built with DOM calls only, never
// from HTML strings: center names come from peers' adverts.
import { geoConicEqualArea } from 'd3-geo';
import chinaMap from 'edwc:china-map';
import { count, pflops, yuan } from './format.js';

const kSvg = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(kSvg, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// The states in which a job or a transfer is still moving work between centers: their arcs
// are animated.
const kActiveJobStates = new Set(['placing', 'held', 'committed', 'running']);
const kEndedTransferStates = new Set(['done', 'failed', 'cancelled']);

export function jobIsActive(job) {
  return kActiveJobStates.has(job.state);
}
export function transferIsActive(transfer) {
  return !kEndedTransferStates.has(transfer.state);
}

// Devices, compute and the cheapest price now of a center, summed over its accelerators.
export function centerCapacity(center) {
  let free = 0;
  let total = 0;
  let cheapest = null;
  for (const a of center.accelerators ?? []) {
    free += a.free;
    total += a.total;
    const fen = a.price_now_per_device_hour_fen;
    if (Number.isSafeInteger(fen) && (cheapest === null || fen < cheapest)) cheapest = fen;
  }
  return {
    free,
    total,
    cheapest,
    freeTflops: center.free_fp16_dense_tflops,
    totalTflops: center.total_fp16_dense_tflops,
  };
}

export class FederationMap {
  constructor(container) {
    this.projection = geoConicEqualArea()
      .parallels(chinaMap.parallels)
      .rotate(chinaMap.rotate)
      .scale(chinaMap.scale)
      .translate(chinaMap.translate);
    this.root = svg('svg', {
      id: 'map',
      viewBox: `0 0 ${chinaMap.width} ${chinaMap.height}`,
      role: 'img',
      'aria-label': 'Map of China with the federation’s centers',
    });
    this.root.append(
      svg('path', { class: 'graticule', d: chinaMap.graticule }),
      svg('path', { class: 'land', d: chinaMap.outline }),
    );
    this.arcs = svg('g', { class: 'arcs' });
    this.centers = svg('g', { class: 'centers' });
    this.root.append(this.arcs, this.centers);
    container.replaceChildren(this.root);
  }

  point(center) {
    const loc = center.location ?? {};
    const p = this.projection([loc.lon, loc.lat]);
    return p && Number.isFinite(p[0]) && Number.isFinite(p[1]) ? p : null;
  }

  // centers: GET /v1/centers; flows: [{from, to, kind: 'job'|'transfer', id, label, active}].
  render(centers, flows) {
    const at = new Map();
    for (const c of centers) {
      const p = this.point(c);
      if (p) at.set(c.id, p);
    }
    this.renderArcs(flows, at);
    this.renderCenters(centers, at);
  }

  renderArcs(flows, at) {
    // Several flows between the same two centers fan out instead of overlapping.
    const seen = new Map();
    const paths = [];
    for (const f of flows) {
      const a = at.get(f.from);
      const b = at.get(f.to);
      if (!a || !b || f.from === f.to) continue;
      const pair = `${f.from}>${f.to}`;
      const n = seen.get(pair) ?? 0;
      seen.set(pair, n + 1);
      const dx = b[0] - a[0];
      const dy = b[1] - a[1];
      const bend = 0.22 + 0.07 * n;
      const cx = (a[0] + b[0]) / 2 - dy * bend;
      const cy = (a[1] + b[1]) / 2 + dx * bend;
      const xy = (x, y) => `${x.toFixed(1)},${y.toFixed(1)}`;
      const d = `M${xy(a[0], a[1])}Q${xy(cx, cy)} ${xy(b[0], b[1])}`;
      const path = svg('path', {
        class: `arc ${f.kind}${f.active ? ' active' : ''}`,
        d,
        'data-id': f.id,
        'data-kind': f.kind,
      });
      path.append(svg('title', {}, f.label));
      paths.push(path);
    }
    this.arcs.replaceChildren(...paths);
  }

  renderCenters(centers, at) {
    const groups = [];
    const placed = [];  // boxes already taken on the map: dots, then labels
    const items = [];
    for (const c of centers) {
      const p = at.get(c.id);
      if (!p) continue;
      const cap = centerCapacity(c);
      // Area grows with compute: sqrt keeps a 10x larger center readable beside a small one.
      const r = 6 + Math.min(14, Math.sqrt((cap.totalTflops ?? 0) / 1000) * 1.3);
      items.push({ c, p, cap, r });
      placed.push([p[0] - r - 4, p[1] - r - 4, p[0] + r + 4, p[1] + r + 4]);
    }
    // Bigger centers first, so that small ones stay on top; labels placed west to east.
    items.sort((x, y) => y.r - x.r);
    const labels = new Map();
    for (const item of [...items].sort((x, y) => x.p[0] - y.p[0])) {
      labels.set(item.c.id, this.placeLabel(item, placed));
    }
    for (const { c, p, cap, r } of items) {
      const liveness = ['alive', 'suspect', 'dead'].includes(c.liveness) ? c.liveness : 'unknown';
      const g = svg('g', {
        class: `center ${liveness}${c.self ? ' self' : ''}`,
        transform: `translate(${p[0].toFixed(1)},${p[1].toFixed(1)})`,
        'data-id': c.id,
        'data-liveness': liveness,
      });
      g.append(svg('title', {}, `${c.name} (${c.id}) · ${c.city} · ${c.zone} · ${liveness}`));
      g.append(svg('circle', { class: 'halo', r: (r + 7).toFixed(1) }));
      g.append(svg('circle', { class: 'dot', r: r.toFixed(1) }));
      // A darker ring over the dot shows the share of devices in use.
      const used = cap.total > 0 ? (cap.total - cap.free) / cap.total : 0;
      if (used > 0) {
        const ring = r - 2.5;
        const circumference = 2 * Math.PI * ring;
        g.append(
          svg('circle', {
            class: 'load',
            r: ring.toFixed(1),
            'stroke-dasharray': `${(used * circumference).toFixed(1)} ${circumference.toFixed(1)}`,
            transform: 'rotate(-90)',
          }),
        );
      }
      const { x, y, anchor } = labels.get(c.id);
      const label = svg('text', { class: 'label', x, y, 'text-anchor': anchor });
      for (const line of labelLines(c, cap, liveness)) {
        const attrs = { class: line.cls };
        if (line.first) Object.assign(attrs, { x, dy: 0 });
        else if (line.inline) attrs.dx = 6;
        else Object.assign(attrs, { x, dy: line.dy });
        label.append(svg('tspan', attrs, line.text));
      }
      g.append(label);
      groups.push(g);
    }
    this.centers.replaceChildren(...groups);
  }

  // Picks where a center's label goes: beside, below or above its dot, east or west, the
  // first spot that covers no other dot or label and stays on the map (else the least bad).
  placeLabel({ c, p, cap, r }, placed) {
    const lines = labelLines(c, cap, c.liveness);
    let width = 0;
    let height = 4;
    let row = 0;
    for (const line of lines) {
      if (line.inline) row += textWidth(line.text, 11) + 6;
      else {
        width = Math.max(width, row);
        row = textWidth(line.text, line.first ? 15 : 13);
        height += line.first ? 15 : line.dy;
      }
    }
    width = Math.max(width, row);
    const gap = r + 9;
    const spots = [];
    for (const dy of [-10, gap + 12, -gap - height + 12]) {
      for (const east of [true, false]) {
        const along = dy === -10 ? gap : 0;  // above and below: start at the dot's centre line
        const x = east ? along : -along;
        spots.push({ x, y: dy, anchor: east ? 'start' : 'end' });
      }
    }
    let best = null;
    for (const spot of spots) {
      const x0 = p[0] + (spot.anchor === 'start' ? spot.x : spot.x - width);
      const y0 = p[1] + spot.y - 13;
      const box = [x0, y0, x0 + width, y0 + height];
      let cost = 0;
      for (const other of placed) cost += overlap(box, other);
      const outside =
        Math.max(0, -box[0]) + Math.max(0, box[2] - chinaMap.width) +
        Math.max(0, -box[1]) + Math.max(0, box[3] - chinaMap.height);
      cost += outside * height;
      if (best === null || cost < best.cost) best = { ...spot, box, cost };
      if (cost === 0) break;
    }
    placed.push(best.box);
    return best;
  }
}

// The lines of a center's label: its city and liveness, devices, compute, price now.
function labelLines(c, cap, liveness) {
  const lines = [
    { cls: 'name', text: c.city || c.id, first: true },
    { cls: 'state', text: liveness, inline: true },
    { cls: 'devices', text: `${count(cap.free)}/${count(cap.total)} devices free`, dy: 17 },
    {
      cls: 'pflops',
      text: `${pflops(cap.freeTflops)}/${pflops(cap.totalTflops)} PFLOPS FP16`,
      dy: 15,
    },
  ];
  if (cap.cheapest !== null) {
    lines.push({ cls: 'price', text: `from ${yuan(cap.cheapest)} /device·h`, dy: 15 });
  }
  return lines;
}

// An estimate of a line's width in viewBox units (no layout needed): CJK characters are
// about one em wide, Latin ones a little over half.
function textWidth(text, size) {
  let ems = 0;
  for (const ch of text) ems += ch.codePointAt(0) >= 0x2e80 ? 1 : 0.6;
  return ems * size;
}

function overlap(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  return w > 0 && h > 0 ? w * h : 0;
}
