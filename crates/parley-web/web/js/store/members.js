// Members slice: the member list of the groups opened so far.

export function createMembers(store) {
  const members = new Map(); // cid -> [member]
  store.on('removed', (cid) => members.delete(cid));

  return {
    reset() { members.clear(); },
    events: {
      'member.joined': (conv, ev, d) => {
        const list = members.get(conv.id);
        if (list) {
          if (!list.some((x) => x.user_id === d.user_id)) {
            list.push({ user_id: d.user_id, role: d.role, joined_seq: ev.seq, joined_at: ev.at, user: store.user(d.user_id) });
          }
          conv.member_count = list.length;
        } else conv.member_count = (conv.member_count || 0) + 1;
        store.emit('need_user', d.user_id);
      },
      'member.left': (conv, ev, d) => {
        const list = members.get(conv.id);
        if (list) {
          const rest = list.filter((x) => x.user_id !== d.user_id);
          members.set(conv.id, rest);
          conv.member_count = rest.length;
        } else conv.member_count = Math.max(0, (conv.member_count || 1) - 1);
        store.forgetWatermark(conv.id, d.user_id);
        store.stopTyping(conv.id, d.user_id);
      },
      'member.role_changed': (conv, ev, d) => {
        const list = members.get(conv.id);
        const mem = list && list.find((x) => x.user_id === d.user_id);
        if (mem) mem.role = d.role;
        if (store.me && d.user_id === store.me.id) conv.my_role = d.role;
      },
    },
    api: {
      membersOf: (cid) => members.get(cid) || null,
      setMembers(cid, list) {
        members.set(cid, list);
        for (const m of list) if (m.user) store.putUser(m.user);
        const conv = store.conversation(cid);
        if (conv) conv.member_count = list.length;
        store.touch(`conv:${cid}`, 'list');
      },
    },
  };
}
