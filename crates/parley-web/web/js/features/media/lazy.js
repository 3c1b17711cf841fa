// Runs a function once an element comes near the viewport, so that a long
// history does not fetch signed URLs (and media) for what nobody scrolls to.
// IntersectionObserver takes the clipping of scrolling ancestors (the
// message log, a dialog) into account.

const callbacks = new WeakMap();
let observer = null;

function observerFor() {
  if (!observer) {
    observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (!e.isIntersecting) continue;
        observer.unobserve(e.target);
        const fn = callbacks.get(e.target);
        callbacks.delete(e.target);
        if (fn) fn();
      }
    }, { rootMargin: '600px 0px' });
  }
  return observer;
}

export function whenNearViewport(el, fn) {
  if (typeof IntersectionObserver === 'undefined') { fn(); return; }
  callbacks.set(el, fn);
  observerFor().observe(el);
}
