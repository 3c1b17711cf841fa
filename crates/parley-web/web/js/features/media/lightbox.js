// The media viewer: one image or video of a conversation at a time, full
// size, in a modal dialog (focus moves in and comes back, Escape closes);
// the Previous/Next buttons and the left/right arrow keys go through the
// conversation's images and videos; a Download link keeps the file name.
import { h, icon } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';
import { bindSigned, downloadLink, isVisual } from './attachment-view.js';

/** The images and videos of the loaded messages of a conversation, oldest first. */
export function conversationMedia(store, cid) {
  const out = [];
  for (const m of store.messageList(cid)) {
    if (m.deleted) continue;
    for (const a of m.attachments || []) if (isVisual(a)) out.push(a);
  }
  return out;
}

function mediaEl(ctx, media) {
  if (media.kind === 'video') {
    const video = h('video', { class: 'lightbox-media', controls: true, preload: 'metadata', playsinline: true, 'aria-label': media.name || 'Video' });
    const retry = bindSigned(ctx, video, media, (s) => { video.src = s.url; });
    video.addEventListener('error', retry);
    return video;
  }
  const img = h('img', { class: 'lightbox-media', alt: media.name || 'Image', decoding: 'async' });
  const retry = bindSigned(ctx, img, media, (s) => { img.src = s.url; });
  img.addEventListener('error', retry);
  return img;
}

/** Opens the viewer on `items[index]` (media objects, oldest first). */
export function openLightbox(ctx, items, index) {
  if (!items.length) return;
  let at = Math.min(Math.max(index, 0), items.length - 1);
  const d = openDialog({ label: 'Media viewer', className: 'lightbox' });
  const title = d.dialog.querySelector('.dialog-title');
  const stage = h('div', { class: 'lightbox-stage' });
  const counter = h('p', { class: 'lightbox-counter', 'aria-live': 'polite' });
  const downloadSlot = h('span', { class: 'lightbox-download' });
  const prev = h('button', { type: 'button', class: 'icon-btn lightbox-prev', 'aria-label': 'Previous', title: 'Previous', onclick: () => go(-1) }, icon('back'));
  const next = h('button', { type: 'button', class: 'icon-btn lightbox-next', 'aria-label': 'Next', title: 'Next', onclick: () => go(1) }, icon('forward'));
  d.body.append(stage, h('div', { class: 'lightbox-bar' }, prev, counter, downloadSlot, next));

  function show() {
    const media = items[at];
    title.textContent = media.name || (media.kind === 'video' ? 'Video' : 'Image');
    stage.replaceChildren(mediaEl(ctx, media));
    stage.dataset.mediaId = media.id;
    counter.textContent = `${at + 1} of ${items.length}`;
    downloadSlot.replaceChildren(downloadLink(ctx, media));
    prev.disabled = at === 0;
    next.disabled = at === items.length - 1;
  }

  function go(step) {
    const to = at + step;
    if (to < 0 || to >= items.length) return;
    at = to;
    const hadFocus = document.activeElement;
    show();
    // A button that just became disabled loses focus: keep it in the dialog.
    if (hadFocus && hadFocus.disabled) (step < 0 ? next : prev).focus();
  }

  d.dialog.addEventListener('keydown', (e) => {
    // A video's own controls use the arrow keys for seeking.
    if (e.target instanceof HTMLMediaElement) return;
    if (e.key === 'ArrowLeft') { e.preventDefault(); go(-1); }
    if (e.key === 'ArrowRight') { e.preventDefault(); go(1); }
  });
  show();
  (next.disabled ? prev : next).focus();
  if (prev.disabled && next.disabled) d.dialog.querySelector('.dialog-header .icon-btn').focus();
}

/** Opens the viewer on one medium of a conversation, among its loaded images and videos. */
export function openConversationLightbox(ctx, cid, media) {
  const items = conversationMedia(ctx.store, cid);
  const at = items.findIndex((x) => x.id === media.id);
  if (at < 0) openLightbox(ctx, [media], 0);
  else openLightbox(ctx, items, at);
}
