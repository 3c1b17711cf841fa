// Who reacted to a message: a dialog with one section per emoji (in the
// order the server gives, first used first) naming the people in the
// order they reacted; and the names as a reaction chip's tooltip.
import { h, avatar } from '../../util/dom.js';
import { openDialog } from '../../ui/dialog.js';

function nameOf(ctx, id) {
  if (id === ctx.store.me.id) return 'You';
  ctx.ensureUser(id);
  return ctx.store.displayName(id);
}

/** "You, Bob and Cy" (and "N others" past the names the server sent). */
export function whoText(ctx, r) {
  const me = ctx.store.me.id;
  const ids = [...r.user_ids.filter((id) => id === me), ...r.user_ids.filter((id) => id !== me)];
  const names = ids.map((id) => nameOf(ctx, id));
  const others = r.count - names.length;
  if (others > 0) names.push(`${others} other${others === 1 ? '' : 's'}`);
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

export async function openReactions(ctx, m) {
  const d = openDialog({ label: 'Reactions' });
  const status = h('p', { class: 'search-status', role: 'status' }, 'Loading…');
  d.body.append(status);
  try {
    const r = await ctx.api.reactors(m.id);
    status.textContent = r.reactions.length ? '' : 'No reactions.';
    for (const x of r.reactions) {
      d.body.append(h('section', { class: 'reaction-group', 'aria-label': `${x.emoji} ${x.count}` },
        h('h3', { class: 'reaction-group-title' }, h('span', { class: 'reaction-emoji' }, x.emoji), ` ${x.count}`),
        h('ul', { class: 'user-list' }, x.user_ids.map((id) => {
          const u = ctx.store.user(id);
          const name = nameOf(ctx, id);
          return h('li', { class: 'user-result' }, avatar(name, u && u.avatar_url, id, 'sm'),
            h('span', { class: 'user-text' }, h('span', { class: 'user-name' }, name)));
        }))));
    }
  } catch (e) {
    status.textContent = e.message || 'Could not load the reactions.';
  }
}
