// Byte counts as people read them (1024-based, as the server's limits are).

const UNITS = ['KB', 'MB', 'GB'];

/** "512 B", "48.2 KB", "3 MB". */
export function formatBytes(n) {
  let v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  let unit = -1;
  while (v >= 1024 && unit < UNITS.length - 1) { v /= 1024; unit += 1; }
  const digits = v < 10 && v % 1 !== 0 ? 1 : 0;
  return `${v.toFixed(digits)} ${UNITS[unit]}`;
}
