// How an attachment (a media object, protocol.md §10) shows in a message
// bubble and in conversation info: images and videos in a box sized from
// the media's width/height before anything loads (so the log does not
// jump), audio as a player, anything else as a file card with a download
// link. Every URL is a signed one, fetched when the element nears the
// viewport and fetched again (once) when loading with it fails.
import { h, icon } from '../../util/dom.js';
import { formatBytes } from '../../util/size.js';
import { formatDuration } from '../../util/time.js';
import { whenNearViewport } from './lazy.js';

const MAX_WIDTH = 320;
const MAX_HEIGHT = 360;

/** The box an image or video of w x h pixels shows in: aspect kept, at most 320 x 360. */
export function boxSize(w, hgt) {
  if (!(w > 0) || !(hgt > 0)) return null;
  const scale = Math.min(1, MAX_WIDTH / w, MAX_HEIGHT / hgt);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(hgt * scale)) };
}

/** Sizes a box element (CSP: through el.style, never a style attribute). */
export function sizeBox(el, w, hgt) {
  const box = boxSize(w, hgt);
  if (!box) { el.classList.add('media-box-unsized'); return; }
  el.style.width = `${box.width}px`;
  el.style.aspectRatio = `${box.width} / ${box.height}`;
}

/**
 * Gives `el` a signed URL when it nears the viewport: `apply(signed)` sets
 * it. Returns `retry()`, for the element's error event: fetches a new URL
 * once, and returns false when it was already tried.
 */
export function bindSigned(ctx, el, media, apply) {
  let retried = false;
  const load = (fresh) => (fresh ? ctx.signedUrls.refresh(media.id) : ctx.signedUrls.get(media.id))
    .then(apply)
    .catch(() => el.classList.add('media-unavailable'));
  whenNearViewport(el, () => load(false));
  return () => {
    if (retried) { el.classList.add('media-unavailable'); return false; }
    retried = true;
    load(true);
    return true;
  };
}

/** Whether the viewer shows it (images and videos). */
export const isVisual = (m) => m.kind === 'image' || m.kind === 'video';

/** An image (its thumbnail) as a button that opens the viewer. */
function imageTile(ctx, media, onOpen, className) {
  const img = h('img', { class: 'media-img', alt: media.name || 'Image', loading: 'lazy', decoding: 'async' });
  const tile = h('button', {
    type: 'button', class: `media-box media-image ${className}`, 'aria-label': `Open ${media.name || 'image'}`,
    'data-media-id': media.id, onclick: () => onOpen(media),
  }, img);
  const retry = bindSigned(ctx, img, media, (s) => { img.src = s.thumbnail_url || s.url; });
  img.addEventListener('error', retry);
  return tile;
}

/** A video that plays in place (Range requests make seeking work), with a button for the viewer. */
function videoBox(ctx, media, onOpen) {
  const video = h('video', { class: 'media-video', controls: true, preload: 'metadata', playsinline: true, 'aria-label': media.name || 'Video' });
  const retry = bindSigned(ctx, video, media, (s) => {
    if (s.thumbnail_url) video.poster = s.thumbnail_url;
    video.src = s.url;
  });
  video.addEventListener('error', () => {
    // Keep the position: the retried URL should resume where the old one broke.
    const at = video.currentTime;
    if (retry()) video.addEventListener('loadedmetadata', () => { if (at) video.currentTime = at; }, { once: true });
  });
  return h('div', { class: 'media-box media-video-box', 'data-media-id': media.id }, video,
    h('button', { type: 'button', class: 'icon-btn media-expand', 'aria-label': `Open ${media.name || 'video'} in the viewer`, onclick: () => onOpen(media) }, icon('expand')));
}

function audioBox(ctx, media) {
  const audio = h('audio', { class: 'media-audio', controls: true, preload: 'metadata', 'aria-label': media.name || 'Audio' });
  const retry = bindSigned(ctx, audio, media, (s) => { audio.src = s.url; });
  audio.addEventListener('error', retry);
  return h('div', { class: 'media-audio-box', 'data-media-id': media.id }, audio,
    h('span', { class: 'media-audio-meta' }, [media.name, media.duration_ms ? formatDuration(media.duration_ms) : null].filter(Boolean).join(' · ')));
}

/** "PDF", "TXT", ... from the media type and name, for the file card. */
function typeLabel(media) {
  const ext = /\.([A-Za-z0-9]{1,5})$/.exec(media.name || '');
  if (ext) return ext[1].toUpperCase();
  const sub = String(media.mime || '').split(/[/;]/)[1];
  return sub ? sub.toUpperCase() : 'File';
}

/**
 * A download link for a media object: `download` keeps the original name.
 * A link clicked after its URL expired gets a new URL first.
 */
export function downloadLink(ctx, media, { label = 'Download', className = 'btn btn-small' } = {}) {
  const a = h('a', { class: `media-download ${className}`, download: media.name || 'file', 'aria-label': `Download ${media.name || 'file'}` }, icon('download'), label);
  bindSigned(ctx, a, media, (s) => { a.href = s.url; });
  a.addEventListener('click', (e) => {
    if (a.href && ctx.signedUrls.isFresh(media.id)) return;
    e.preventDefault();
    ctx.signedUrls.get(media.id).then((s) => { a.href = s.url; a.click(); }, () => ctx.toast('Could not download the file.'));
  });
  return a;
}

/** A file card: icon, name, size and type, and a download link. */
export function fileCard(ctx, media, extra = null) {
  return h('div', { class: 'file-card', 'data-media-id': media.id },
    h('span', { class: 'file-icon' }, icon('file')),
    h('span', { class: 'file-text' },
      h('span', { class: 'file-name', dir: 'auto' }, media.name || 'file'),
      h('span', { class: 'file-meta' }, [formatBytes(media.size), typeLabel(media), extra].filter(Boolean).join(' · '))),
    downloadLink(ctx, media, { label: '', className: 'icon-btn' }));
}

/** One attachment of a message. `onOpen(media)` opens the viewer on an image or video. */
export function attachmentView(ctx, media, onOpen) {
  if (media.kind === 'image') {
    const tile = imageTile(ctx, media, onOpen, 'in-bubble');
    sizeBox(tile, media.width, media.height);
    return tile;
  }
  if (media.kind === 'video') {
    const box = videoBox(ctx, media, onOpen);
    sizeBox(box, media.width || 16, media.height || 9);
    return box;
  }
  if (media.kind === 'audio') return audioBox(ctx, media);
  return fileCard(ctx, media);
}

/** The attachments of a message, in their order. */
export function attachmentsEl(ctx, attachments, onOpen) {
  return h('div', { class: 'attachments' }, attachments.map((m) => attachmentView(ctx, m, onOpen)));
}

/** A square tile of the Media grid: the thumbnail (a video's frame, else a label). */
export function gridTile(ctx, media, onOpen) {
  if (media.kind === 'image' || (media.kind === 'video' && media.thumbnail_url)) {
    const tile = imageTile(ctx, media, onOpen, 'grid-tile');
    if (media.kind === 'video') tile.appendChild(h('span', { class: 'grid-video-mark' }, media.duration_ms ? formatDuration(media.duration_ms) : 'Video'));
    return tile;
  }
  return h('button', { type: 'button', class: 'media-box grid-tile grid-video', 'aria-label': `Open ${media.name || 'video'}`, 'data-media-id': media.id, onclick: () => onOpen(media) },
    h('span', { class: 'grid-video-mark' }, media.duration_ms ? formatDuration(media.duration_ms) : 'Video'));
}

/**
 * An attachment of a message still in the outbox (record.js): once
 * uploaded, as it will show; before, a local preview of an image (its
 * blob: URL revoked as soon as the image has decoded) or a card saying it
 * waits to be uploaded.
 */
export function pendingAttachmentView(ctx, a, onOpen, uploading) {
  if (a.media) return attachmentView(ctx, a.media, onOpen);
  // Filled in by showUploadProgress() as the outbox reports it.
  const progress = h('progress', { class: 'pending-progress', max: a.size || 1, value: 0, 'aria-label': `Uploading ${a.name}`, hidden: !uploading });
  const file = a.file;
  if (file && (a.type || '').startsWith('image/')) {
    const url = URL.createObjectURL(file);
    const img = h('img', { class: 'media-img', alt: a.name, src: url });
    const done = () => URL.revokeObjectURL(url);
    img.addEventListener('load', done, { once: true });
    img.addEventListener('error', done, { once: true });
    const box = h('div', { class: 'media-box media-image media-pending in-bubble' }, img, progress);
    sizeBox(box, a.width, a.height);
    return box;
  }
  return h('div', { class: 'file-card media-pending' },
    h('span', { class: 'file-icon' }, icon('file')),
    h('span', { class: 'file-text' },
      h('span', { class: 'file-name', dir: 'auto' }, a.name),
      h('span', { class: 'file-meta' }, `${formatBytes(a.size)} · ${uploading ? 'uploading…' : 'waiting to upload'}`),
      progress));
}

/** Moves the progress bar of attachment `index` of a pending message shown in `root`. */
export function showUploadProgress(root, { clientId, index, loaded, total }) {
  const msg = root.querySelector(`.message[data-client-id="${CSS.escape(clientId)}"]`);
  const shown = msg && msg.querySelectorAll('.attachments > *')[index];
  const bar = shown && shown.querySelector('progress.pending-progress');
  if (!bar) return;
  bar.hidden = false;
  bar.max = total || 1;
  bar.value = loaded;
}
