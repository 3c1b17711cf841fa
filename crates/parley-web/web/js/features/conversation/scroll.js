// Scrolling the message log: at the bottom or not, to the bottom, and
// keeping the first visible message in place while content above changes.

export function createScroller(log, { alive, skip }) {
  let settleTimer = null;

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  }

  function toBottom(smooth) {
    clearTimeout(settleTimer);
    if (smooth && typeof log.scrollTo === 'function') {
      log.scrollTo({ top: log.scrollHeight, behavior: 'smooth' });
      // Make sure we end at the newest even if the smooth scroll was cut
      // short (content changing meanwhile).
      settleTimer = setTimeout(() => { if (alive() && !atBottom()) log.scrollTop = log.scrollHeight; }, 450);
    } else log.scrollTop = log.scrollHeight;
  }

  /** The first element visible at the top (its key and offset), if any. */
  function anchor() {
    for (const child of log.children) {
      if (skip(child)) continue;
      if (child.offsetTop + child.offsetHeight > log.scrollTop) {
        return { key: child._key, offset: child.offsetTop - log.scrollTop };
      }
    }
    return null;
  }

  /** Puts the anchor back where it was (if it is still there). */
  function restore(a) {
    const el = [...log.children].find((c) => c._key === a.key);
    if (!el) return;
    const target = el.offsetTop - a.offset;
    // Only move when the content above actually shifted (so as not to
    // interrupt a smooth scroll in progress).
    if (Math.abs(target - log.scrollTop) > 1) log.scrollTop = target;
  }

  return { atBottom, toBottom, anchor, restore };
}
