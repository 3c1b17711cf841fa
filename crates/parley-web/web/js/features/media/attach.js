// The three ways files reach the composer's tray: the attach button (a
// file picker, several at once), dropping files on the conversation, and
// pasting files or images from the clipboard into the text box.
import { h, icon } from '../../util/dom.js';

/** The paperclip button and its hidden file input. */
export function attachButton(addFiles) {
  const input = h('input', { type: 'file', multiple: true, class: 'visually-hidden', tabindex: '-1', 'aria-hidden': 'true' });
  input.addEventListener('change', () => {
    if (input.files && input.files.length) addFiles(input.files);
    input.value = ''; // picking the same file again still fires change
  });
  const button = h('button', {
    type: 'button', class: 'icon-btn attach-btn', 'aria-label': 'Attach files', title: 'Attach files',
    onclick: () => input.click(),
  }, icon('attach'));
  return { button, input };
}

const carriesFiles = (e) => !!e.dataTransfer && [...(e.dataTransfer.types || [])].includes('Files');

/** Files dropped anywhere on `target` (it shows a drop hint meanwhile). Returns an undo. */
export function acceptDrops(target, addFiles) {
  let depth = 0; // dragenter/leave fire for every child crossed
  const hint = (on) => target.classList.toggle('drop-target', on);
  const onEnter = (e) => { if (!carriesFiles(e)) return; depth += 1; hint(true); };
  const onLeave = (e) => { if (!carriesFiles(e)) return; depth = Math.max(0, depth - 1); if (!depth) hint(false); };
  const onOver = (e) => { if (!carriesFiles(e)) return; e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; };
  const onDrop = (e) => {
    depth = 0;
    hint(false);
    if (!e.dataTransfer || !e.dataTransfer.files || !e.dataTransfer.files.length) return;
    e.preventDefault();
    addFiles(e.dataTransfer.files);
  };
  target.addEventListener('dragenter', onEnter);
  target.addEventListener('dragleave', onLeave);
  target.addEventListener('dragover', onOver);
  target.addEventListener('drop', onDrop);
  return () => {
    target.removeEventListener('dragenter', onEnter);
    target.removeEventListener('dragleave', onLeave);
    target.removeEventListener('dragover', onOver);
    target.removeEventListener('drop', onDrop);
  };
}

/** Files pasted into `field`; pasted text stays the field's as usual. */
export function acceptPaste(field, addFiles) {
  field.addEventListener('paste', (e) => {
    const files = e.clipboardData ? [...e.clipboardData.files] : [];
    if (!files.length) return;
    e.preventDefault();
    addFiles(files);
  });
}
