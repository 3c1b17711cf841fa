// A few words for a message's attachments where there is no room to show
// them: the conversation list's preview, a reply's quote, the reply bar.

const WORDS = { image: 'Photo', video: 'Video', audio: 'Audio' };

/** The kind of a media object, or of an outbox attachment (record.js) from its type. */
function kindOf(a) {
  const media = a.media || a;
  if (media.kind) return media.kind;
  const type = a.type || '';
  for (const k of ['image', 'video', 'audio']) if (type.startsWith(`${k}/`)) return k;
  return 'file';
}

/** "Photo", "Video", "Audio", a file's name, "3 attachments"; '' for none. */
export function attachmentSummary(list) {
  if (!list || !list.length) return '';
  if (list.length > 1) return `${list.length} attachments`;
  const a = list[0];
  return WORDS[kindOf(a)] || (a.media || a).name || 'File';
}
