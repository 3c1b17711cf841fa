// The attachments picked for the next message, as chips above the text
// box: name, size, a local preview (a blob: URL, revoked when the chip
// goes), a progress bar, and a remove button that also cancels the upload.
// Each file starts uploading as soon as it is picked; a definitive refusal
// (too large, a type the server does not take) shows the server's message
// with Retry and Remove; a network failure leaves the file to the outbox,
// which uploads it when the connection is back.
import { h, icon, uid } from '../../util/dom.js';
import { formatBytes } from '../../util/size.js';

/** At most this many attachments per message (protocol.md §10). */
export const MAX_ATTACHMENTS = 10;

function previewOf(chip) {
  const type = chip.file.type || '';
  if (!type.startsWith('image/') && !type.startsWith('video/')) return h('span', { class: 'chip-file-icon' }, icon('file'));
  chip.previewUrl = URL.createObjectURL(chip.file);
  if (type.startsWith('video/')) {
    const v = h('video', { class: 'chip-preview', src: chip.previewUrl, muted: true, preload: 'metadata', 'aria-hidden': 'true' });
    v.addEventListener('loadedmetadata', () => { chip.width = v.videoWidth || null; chip.height = v.videoHeight || null; });
    return v;
  }
  const img = h('img', { class: 'chip-preview', src: chip.previewUrl, alt: '' });
  img.addEventListener('load', () => { chip.width = img.naturalWidth; chip.height = img.naturalHeight; });
  return img;
}

const STATUS = {
  uploading: () => 'Uploading…',
  ready: () => 'Ready',
  waiting: () => 'Will upload when online',
  failed: (chip) => chip.error,
};

export function createAttachmentTray(ctx, { onChange }) {
  const list = h('ul', { class: 'attach-tray', 'aria-label': 'Attachments' });
  const note = h('p', { class: 'attach-note', role: 'alert' });
  const el = h('div', { class: 'attach-area', hidden: true }, list, note);
  let chips = [];

  function changed() {
    el.hidden = chips.length === 0 && !note.textContent;
    onChange();
  }

  function say(text) {
    note.textContent = text;
    changed();
  }

  function patch(chip) {
    chip.el.dataset.state = chip.state;
    chip.status.textContent = STATUS[chip.state](chip);
    chip.status.classList.toggle('chip-error', chip.state === 'failed');
    chip.progress.hidden = chip.state !== 'uploading';
    chip.progress.max = chip.total || 1;
    chip.progress.value = chip.loaded;
    chip.retry.hidden = chip.state !== 'failed';
    chip.remove.setAttribute('aria-label', `${chip.state === 'uploading' ? 'Cancel upload of' : 'Remove'} ${chip.file.name}`);
  }

  function start(chip) {
    chip.state = 'uploading';
    chip.loaded = 0;
    chip.error = '';
    chip.controller = new AbortController();
    chip.upload = ctx.api.uploadMedia(chip.file, {
      signal: chip.controller.signal,
      onProgress: (loaded, total) => {
        chip.loaded = loaded;
        chip.total = total;
        if (!chip.gone) patch(chip);
        else if (chip.forward) chip.forward(loaded, total); // handed over to the outbox
      },
    }).then((media) => {
      chip.media = media;
      chip.state = 'ready';
      return media;
    }, (e) => {
      if (e.code === 'aborted') return null;
      if (e.transient) chip.state = 'waiting';
      else { chip.state = 'failed'; chip.error = e.message || 'The upload failed.'; }
      return null;
    }).finally(() => { if (!chip.gone) { patch(chip); changed(); } });
    patch(chip);
  }

  function chipEl(chip) {
    chip.status = h('span', { class: 'chip-status' });
    chip.progress = h('progress', { class: 'chip-progress', 'aria-label': `Uploading ${chip.file.name}` });
    chip.retry = h('button', { type: 'button', class: 'btn-link chip-retry', 'aria-label': `Retry ${chip.file.name}`, onclick: () => start(chip) }, 'Retry');
    chip.remove = h('button', { type: 'button', class: 'icon-btn chip-remove', onclick: () => removeChip(chip) }, icon('close'));
    chip.el = h('li', { class: 'attach-chip', 'data-key': chip.key },
      previewOf(chip),
      h('span', { class: 'chip-text' },
        h('span', { class: 'chip-name', dir: 'auto' }, chip.file.name),
        h('span', { class: 'chip-size' }, formatBytes(chip.file.size)),
        chip.status, chip.progress),
      chip.retry, chip.remove);
    return chip.el;
  }

  function drop(chip) {
    chip.gone = true;
    if (chip.previewUrl) URL.revokeObjectURL(chip.previewUrl);
    chip.el.remove();
  }

  function removeChip(chip) {
    if (chip.controller) chip.controller.abort();
    drop(chip);
    chips = chips.filter((c) => c !== chip);
    note.textContent = '';
    changed();
  }

  return {
    el,
    say,
    count: () => chips.length,
    /** Adds picked, dropped or pasted files (beyond the limit: refused, said why). */
    add(files) {
      const room = MAX_ATTACHMENTS - chips.length;
      const picked = [...files];
      note.textContent = picked.length > room ? `You can send at most ${MAX_ATTACHMENTS} attachments in one message.` : '';
      for (const file of picked.slice(0, Math.max(0, room))) {
        const chip = { key: uid('att'), file, state: 'uploading', loaded: 0, total: file.size, media: null, error: '', width: null, height: null };
        chips.push(chip);
        list.appendChild(chipEl(chip));
        start(chip);
      }
      changed();
    },
    /** Why the attachments cannot be sent as they are ('' when they can). */
    problem() {
      return chips.some((c) => c.state === 'failed') ? 'Remove or retry the attachments that could not be uploaded.' : '';
    },
    /**
     * Hands the attachments over to the outbox and empties the tray. An
     * upload in flight goes on: the outbox waits for it (`upload`), follows
     * its progress (`follow`), and uploads the file itself if it does not
     * succeed.
     */
    take() {
      const out = chips.map((c) => ({
        media: c.media,
        file: c.media ? null : c.file,
        name: c.file.name,
        type: c.file.type,
        size: c.file.size,
        width: c.width,
        height: c.height,
        upload: c.state === 'uploading' ? c.upload : null,
        // Where the upload's further progress goes (the outbox shows it).
        follow: c.state === 'uploading' ? (fn) => { c.forward = fn; } : null,
      }));
      for (const c of chips) drop(c);
      chips = [];
      note.textContent = '';
      changed();
      return out;
    },
    /** Cancels every upload (the conversation is closed). */
    destroy() {
      for (const c of chips) { if (c.controller) c.controller.abort(); drop(c); }
      chips = [];
    },
  };
}
