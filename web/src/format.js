// Formatting for the dashboard. Money arrives as integer fen and compute as integer TFLOPS;
// both are formatted with integer arithmetic only, so that no float ever rounds a price.

const kDash = '—';

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

// 123456 fen -> "¥1,234.56"; -15 -> "-¥0.15".
export function yuan(fen) {
  if (!Number.isSafeInteger(fen)) return kDash;
  const abs = Math.abs(fen);
  const cents = abs % 100;
  const whole = (abs - cents) / 100;  // exact: a multiple of 100 divided by 100
  return `${fen < 0 ? '-' : ''}¥${groupThousands(String(whole))}.${String(cents).padStart(2, '0')}`;
}

// 104256 TFLOPS -> "104.3" PFLOPS, rounded half up at the tenth.
export function pflops(tflops) {
  if (!Number.isSafeInteger(tflops) || tflops < 0) return kDash;
  const rest = tflops % 100;
  const tenths = (tflops - rest) / 100 + (rest >= 50 ? 1 : 0);
  const tenth = tenths % 10;
  return `${groupThousands(String((tenths - tenth) / 10))}.${tenth}`;
}

export function count(n) {
  return Number.isSafeInteger(n) ? groupThousands(String(n)) : kDash;
}

// 1536 -> "1.5 KiB", with integer arithmetic (one decimal, truncated).
export function bytes(n) {
  if (!Number.isSafeInteger(n) || n < 0) return kDash;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let unit = 0;
  let scale = 1;
  while (unit + 1 < units.length && n >= scale * 1024) {
    scale *= 1024;
    unit += 1;
  }
  if (unit === 0) return `${n} B`;
  const tenths = Math.floor((n * 10) / scale);
  return `${Math.floor(tenths / 10)}.${tenths % 10} ${units[unit]}`;
}

// Integer percent of done/total, floored (100 only when complete).
export function percent(done, total) {
  if (!Number.isSafeInteger(done) || !Number.isSafeInteger(total) || total <= 0) return kDash;
  return `${Math.floor((Math.min(done, total) * 100) / total)}%`;
}

// An RFC 3339 time as the browser's local clock time, "15:04:05".
export function clock(rfc3339) {
  const t = typeof rfc3339 === 'string' ? new Date(rfc3339) : rfc3339;
  if (!(t instanceof Date) || Number.isNaN(t.getTime())) return kDash;
  return t.toLocaleTimeString([], { hour12: false });
}

// "3 s ago", "2 min ago" from an RFC 3339 time.
export function ago(rfc3339, now = Date.now()) {
  const t = Date.parse(rfc3339);
  if (Number.isNaN(t)) return kDash;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 90) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min ago`;
  return `${Math.round(m / 60)} h ago`;
}
