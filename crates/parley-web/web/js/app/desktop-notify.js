// Desktop notifications while the tab is hidden (protocol.md §12's web
// client): a message from someone else, in a conversation that is not
// muted, shows a notification and plays a short tone, once the user has
// allowed notifications (Settings > Notifications asks; nothing is asked
// here). Shown through the service worker when there is one, with the
// same tag as a Web Push for that conversation, so the two replace each
// other instead of doubling up. A click brings the tab back to the
// conversation. Do not disturb (paused, or quiet hours) shows nothing.

const PREVIEW_CHARS = 200;

function tone() {
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    const audio = new Ctx();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.25);
    osc.onended = () => audio.close().catch(() => {});
  } catch {
    // No sound is not an error.
  }
}

/** Minutes after midnight of `HH:MM`. */
function minutes(hhmm) {
  const [h, m] = String(hhmm).split(':').map(Number);
  return h * 60 + m;
}

/** Whether do not disturb holds now for `prefs` (as the server decides). */
export function doNotDisturb(prefs, now = new Date()) {
  if (prefs.dnd_until && Date.parse(prefs.dnd_until) > now.getTime()) return true;
  const q = prefs.quiet_hours;
  if (!q) return false;
  let local;
  try {
    local = new Intl.DateTimeFormat('en-GB', { timeZone: q.time_zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(now);
  } catch {
    return false;
  }
  const [t, from, to] = [minutes(local), minutes(q.from), minutes(q.to)];
  return from < to ? from <= t && t < to : t >= from || t < to;
}

export function createDesktopNotifier(s) {
  // The preferences, read again at most once a minute (the settings
  // dialog may change them).
  let prefs = { previews: true };
  let readAt = 0;
  async function currentPrefs() {
    if (Date.now() - readAt > 60_000) {
      readAt = Date.now();
      prefs = await s.api.notificationPrefs().catch(() => prefs);
    }
    return prefs;
  }

  async function show(title, options, cid) {
    const reg = 'serviceWorker' in navigator ? await navigator.serviceWorker.getRegistration('/').catch(() => null) : null;
    if (reg) {
      await reg.showNotification(title, options);
      return;
    }
    const n = new Notification(title, options);
    n.onclick = () => {
      window.focus();
      s.ctx.navigate(cid);
      n.close();
    };
  }

  return {
    /** A `message.created` from someone else, as applied to the store. */
    async onMessage(ev) {
      if (document.visibilityState !== 'hidden') return;
      if (!('Notification' in window) || Notification.permission !== 'granted') return;
      const { store } = s;
      const conv = store.conversation(ev.conversation_id);
      if (!conv || store.isMuted(conv)) return;
      const p = await currentPrefs();
      if (doNotDisturb(p)) return;
      const m = ev.data.message;
      const sender = store.displayName(m.sender_id);
      const title = store.titleOf(conv) || sender;
      const text = p.previews && m.text ? m.text.slice(0, PREVIEW_CHARS) : 'New message';
      const body = conv.kind === 'direct' ? text : `${sender}: ${text}`;
      show(title, { body, tag: `conv:${ev.conversation_id}`, renotify: true, icon: '/favicon.svg',
        data: { conversation_id: ev.conversation_id, seq: ev.seq } }, ev.conversation_id)
        .then(tone, () => {});
    },
  };
}
