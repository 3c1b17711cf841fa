// A long press by touch (500 ms without moving): how a phone opens a
// message's actions, as the system's own apps do. A scroll (pointercancel)
// or a move of more than 10 px is not a press; the browser's own context
// menu is kept away on touch screens only.

const HOLD_MS = 500;
const SLOP_PX = 10;

export function onLongPress(el, fire) {
  let timer = null;
  let start = null;
  // The click a finger lifted after a long press may still make is not a tap.
  let swallowClick = false;
  el.addEventListener('click', (e) => {
    if (!swallowClick) return;
    swallowClick = false;
    e.preventDefault();
    e.stopPropagation();
  }, true);
  const cancel = () => {
    clearTimeout(timer);
    timer = null;
    el.classList.remove('long-pressing');
  };
  el.addEventListener('pointerdown', (e) => {
    if (e.pointerType !== 'touch') return;
    start = { x: e.clientX, y: e.clientY };
    el.classList.add('long-pressing');
    clearTimeout(timer);
    timer = setTimeout(() => {
      cancel();
      swallowClick = true;
      setTimeout(() => { swallowClick = false; }, 800);
      fire();
    }, HOLD_MS);
  });
  el.addEventListener('pointermove', (e) => {
    if (timer && start && Math.hypot(e.clientX - start.x, e.clientY - start.y) > SLOP_PX) cancel();
  });
  for (const type of ['pointerup', 'pointercancel', 'pointerleave']) el.addEventListener(type, () => { if (timer) cancel(); });
  el.addEventListener('contextmenu', (e) => {
    if (window.matchMedia('(hover: none)').matches) e.preventDefault();
  });
}
