// The presence line of a person (header, conversation info).
import { formatLastSeen } from '../../util/time.js';

/** "online", "last seen …", "away" or nothing, from store.presenceOf. */
export function presenceLine(presence) {
  if (presence && presence.state === 'online') return 'online';
  if (presence && presence.last_seen_at) return `last seen ${formatLastSeen(presence.last_seen_at)}`;
  if (presence && presence.state === 'away') return 'away';
  return '';
}
