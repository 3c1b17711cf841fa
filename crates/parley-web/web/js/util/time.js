// Time formatting for the UI (local time zone, browser locale).

// The locale's own clock ("9:05 PM" in en-US, "09:05" in en-GB): two-digit
// hours on 24-hour clocks, no leading zero on 12-hour ones,
// unless this device is set to a 12- or 24-hour clock (kept in
// localStorage, like the browser's own per-device settings).
const CLOCK_KEY = 'parley.clock';
const CYCLES = { 12: 'h12', 24: 'h23' };

function storedClock() {
  try { return localStorage.getItem(CLOCK_KEY) || 'auto'; } catch { return 'auto'; }
}

function timeFormatFor(clock) {
  const forced = CYCLES[clock];
  const cycle = forced || new Intl.DateTimeFormat(undefined, { hour: 'numeric' }).resolvedOptions().hourCycle;
  // A 24-hour clock reads "00:22" and "09:05" ('numeric' alone gives
  // "0:22"); a 12-hour one "9:05 PM".
  const hour = cycle === 'h23' || cycle === 'h24' ? '2-digit' : 'numeric';
  return new Intl.DateTimeFormat(undefined, forced ? { hour, minute: '2-digit', hourCycle: forced } : { hour, minute: '2-digit' });
}

let clock = storedClock();
let timeFmt = timeFormatFor(clock);

/** 'auto' (the locale's clock), '12' or '24'. */
export function clockPreference() { return clock; }

/** Sets this device's clock; the views re-render their times on their next update. */
export function setClockPreference(value) {
  clock = CYCLES[value] ? value : 'auto';
  timeFmt = timeFormatFor(clock);
  try {
    if (clock === 'auto') localStorage.removeItem(CLOCK_KEY); else localStorage.setItem(CLOCK_KEY, clock);
  } catch { /* private mode: this session only */ }
}
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long' });
const shortDateFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const dayMonthFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function toDate(v) {
  if (!v) return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

export function dayKey(v) {
  const d = toDate(v) || new Date();
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

function daysAgo(d, now = new Date()) {
  return Math.round((startOfDay(now) - startOfDay(d)) / 86400000);
}

/** "12:30" */
export function formatTime(v) {
  const d = toDate(v);
  return d ? timeFmt.format(d) : '';
}

/** Day separator label: "Today", "Yesterday", weekday, or a date. */
export function formatDay(v) {
  const d = toDate(v) || new Date();
  const n = daysAgo(d);
  if (n === 0) return 'Today';
  if (n === 1) return 'Yesterday';
  if (n > 1 && n < 7) return weekdayFmt.format(d);
  if (d.getFullYear() === new Date().getFullYear()) return dayMonthFmt.format(d);
  return shortDateFmt.format(d);
}

/** Conversation-list time: time today, "Yesterday", weekday, or date. */
export function formatListTime(v) {
  const d = toDate(v);
  if (!d) return '';
  const n = daysAgo(d);
  if (n <= 0) return formatTime(d);
  if (n === 1) return 'Yesterday';
  if (n < 7) return weekdayFmt.format(d);
  return shortDateFmt.format(d);
}

/** "last seen" suffix: "today at 12:30", "yesterday at 09:00", "12 Mar 2026". */
export function formatLastSeen(v) {
  const d = toDate(v);
  if (!d) return 'recently';
  const n = daysAgo(d);
  if (n <= 0) return `today at ${formatTime(d)}`;
  if (n === 1) return `yesterday at ${formatTime(d)}`;
  return `${shortDateFmt.format(d)} at ${formatTime(d)}`;
}

export function formatFull(v) {
  const d = toDate(v);
  return d ? fullFmt.format(d) : '';
}

/** A duration as a clock: "0:07", "3:25", "1:02:03". */
export function formatDuration(ms) {
  const total = Math.max(0, Math.round((Number(ms) || 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
