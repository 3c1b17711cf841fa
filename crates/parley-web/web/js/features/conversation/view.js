// The conversation view (right pane): header, message log, typing
// indicator and the composer, re-rendered when the conversation, the
// outbox, users or typing change.
import { h } from '../../util/dom.js';
import { createHeader } from './header.js';
import { createSupportBar } from '../support/bar.js';
import { createMessageLog } from './message-log.js';
import { createTypingIndicator } from './typing-indicator.js';
import { createComposer } from '../composer/composer.js';
import { acceptDrops } from '../media/attach.js';
import { showUploadProgress } from '../media/attachment-view.js';

export function createConversationView(ctx, cid) {
  let destroyed = false;
  const alive = () => !destroyed;
  const header = createHeader(ctx, cid);
  const supportBar = createSupportBar(ctx, cid);
  const typing = createTypingIndicator(ctx, cid);
  const composer = createComposer(ctx, cid, { onSend: () => log.hidePill() });
  const log = createMessageLog(ctx, cid, {
    alive,
    actions: { reply: composer.startReply, edit: composer.startEdit, focusComposer: composer.focus },
  });
  const el = h('section', { class: 'conversation', 'aria-label': 'Conversation', 'data-conversation-id': cid },
    header.el, supportBar.el, log.el, typing.el, composer.el);
  // Files dropped anywhere on the conversation go to the composer's tray.
  const stopDrops = acceptDrops(el, (files) => composer.addFiles(files));
  // Upload progress of my pending sends, patched in place (no re-render).
  const stopProgress = ctx.outbox.on('progress', (p) => showUploadProgress(log.el, p));

  function render() {
    header.render();
    supportBar.render();
    typing.render();
    composer.render();
    log.render();
  }

  render();
  log.loadNewest();

  return {
    el,
    cid,
    update(dirty) {
      if (destroyed) return;
      if (dirty.has(`conv:${cid}`) || dirty.has('outbox') || dirty.has('users') || dirty.has('typing')) render();
    },
    refresh() { log.loadNewest(); },
    focusComposer() { composer.focus({ preventScroll: true }); },
    isAtBottom: log.atBottom,
    showMessage: (id, seq) => log.showMessage(id, seq),
    destroy() {
      destroyed = true;
      stopDrops();
      stopProgress();
      composer.destroy();
    },
  };
}
