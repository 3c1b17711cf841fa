// The web client's UI contract (roles, labels and classes the tests rely
// on); see crates/parley-web/web/js/parley/README.md.

export const conversationList = (page) => page.getByRole('navigation', { name: 'Conversations' });
export const conversationView = (page) => page.getByRole('region', { name: 'Conversation' });
export const messageLog = (page) => page.getByRole('log', { name: 'Messages' });
export const composer = (page) => page.getByLabel('Type a message');
export const banner = (page) => page.locator('.connection-banner');

/** The list row of a conversation, by its title. */
export const conversationRow = (page, title) =>
  conversationList(page).locator('li.conv-item').filter({ has: page.locator('.conv-title', { hasText: title }) });

/** Opens (creating if needed) the direct chat with a user found by search. */
export async function startDirectChat(page, username, displayName) {
  await page.getByRole('button', { name: 'New chat' }).click();
  const dialog = page.getByRole('dialog', { name: 'New chat' });
  await dialog.getByLabel('Search users').fill(username);
  await dialog.getByRole('button', { name: new RegExp(`@${username}`) }).click();
  await conversationView(page).locator('.conv-header-title', { hasText: displayName }).waitFor();
}

export async function openConversation(page, title) {
  await conversationRow(page, title).getByRole('button').first().click();
  await conversationView(page).locator('.conv-header-title', { hasText: title }).waitFor();
}

export async function sendText(page, text) {
  await composer(page).fill(text);
  await composer(page).press('Enter');
}

/**
 * A computed style property of the element a locator names. A list row is
 * re-rendered (replaced) when its signature changes, and a node replaced
 * between Playwright resolving it and reading its style reads as ''; the
 * locator is resolved again until the element is attached.
 */
export async function computedStyle(locator, property, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await locator.evaluate((n, p) => (n.isConnected ? getComputedStyle(n)[p] : ''), property);
    if (value !== '' || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every message in the open conversation, in display order. */
export function messages(page) {
  return messageLog(page).locator('.message');
}

/** The message whose text is exactly `text`. */
export function messageByText(page, text) {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return messages(page).filter({ has: page.locator('.message-text').filter({ hasText: exact }) });
}

/** The tick status (`sending`, `sent`, `delivered`, `read`, `failed`) of an own message. */
export async function tickStatus(page, text) {
  return messageByText(page, text).locator('.ticks').getAttribute('data-status');
}

/** The texts of the open conversation's messages, in display order. */
export async function messageTexts(page) {
  return messageLog(page).locator('.message .message-text').allTextContents();
}

/** Every record of the client's IndexedDB outbox (read in the page). */
export function outboxRecords(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const r = indexedDB.open('parley');
    r.onerror = () => reject(r.error);
    r.onsuccess = () => {
      const db = r.result;
      if (!db.objectStoreNames.contains('outbox')) { db.close(); resolve([]); return; }
      const q = db.transaction('outbox').objectStore('outbox').getAll();
      q.onsuccess = () => { db.close(); resolve(q.result); };
      q.onerror = () => reject(q.error);
    };
  }));
}

/** The localStorage keys of the page's origin. */
export function localStorageKeys(page) {
  return page.evaluate(() => Object.keys(localStorage));
}

/** A real touch held on the element's centre for `ms` (Chromium's own touch events, through CDP). */
export async function longPress(page, locator, ms) {
  const box = await locator.boundingBox();
  const cdp = await page.context().newCDPSession(page);
  const point = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [point] });
  await new Promise((r) => setTimeout(r, ms));
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await cdp.detach();
}
