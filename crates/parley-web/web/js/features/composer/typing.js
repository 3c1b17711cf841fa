// Telling the others I am typing: a start at most every 2.5 s while the
// box has text, a stop when it is emptied, sent or left.

const TYPING_EVERY_MS = 2500;

export function createTypingNotifier(ctx, cid) {
  let sentAt = 0;
  let active = false;
  return {
    /** The text changed. */
    input(text) {
      if (text.trim()) {
        const now = Date.now();
        if (now - sentAt > TYPING_EVERY_MS && ctx.gateway.connected) {
          sentAt = now;
          active = true;
          ctx.gateway.typingStart(cid).catch(() => {});
        }
      } else {
        this.stop();
      }
    },
    stop() {
      if (!active) return;
      active = false;
      sentAt = 0;
      ctx.gateway.typingStop(cid).catch(() => {});
    },
  };
}
