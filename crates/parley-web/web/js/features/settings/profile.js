// My profile as the sidebar shows it: avatar and name. The avatar is a
// button that sets a new profile photo: the picked image is uploaded and
// `PATCH /users/me {avatar_media_id}` makes the server cut a square,
// public copy of it (protocol deviation 25), so any `<img>` can load it.
import { h, avatar } from '../../util/dom.js';

export function createProfileBox(ctx) {
  const el = h('div', { class: 'me-box' });
  const picker = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', tabindex: '-1', 'aria-hidden': 'true' });
  let busy = false;

  picker.addEventListener('change', async () => {
    const file = picker.files && picker.files[0];
    picker.value = ''; // the same file again still fires change
    if (!file || busy) return;
    busy = true;
    el.classList.add('me-box-busy');
    try {
      const media = await ctx.api.uploadMedia(file);
      const me = await ctx.api.updateMe({ avatar_media_id: media.id });
      ctx.store.setMe(me);
      render();
      ctx.toast('Profile photo updated');
    } catch (e) {
      ctx.toast((e && e.message) || 'Could not set the profile photo');
    } finally {
      busy = false;
      el.classList.remove('me-box-busy');
    }
  });

  function render() {
    const me = ctx.store.me;
    if (!me) return;
    el.replaceChildren(
      h('button', {
        type: 'button', class: 'me-avatar-btn', 'aria-label': 'Change profile photo', title: 'Change profile photo',
        onclick: () => picker.click(),
      }, avatar(me.display_name || me.username, me.avatar_url, me.id, 'sm')),
      picker,
      h('span', { class: 'me-name' }, me.display_name || me.username));
  }
  render();
  return { el, render };
}
