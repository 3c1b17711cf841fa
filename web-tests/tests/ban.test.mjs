// A ban from the operator's shell (`parley admin ban`) ends a signed-in
// browser session at once: the gateway closes with 4003, the client does
// not reconnect, and the user is back at the sign-in form; signing in
// again is refused with the ban's reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { serverAndBrowser, openPage, signInUI, uniqueName, Api, parleyBin, PASSWORD } from '../lib/harness.mjs';

const env = serverAndBrowser();

test('a ban signs the user out and keeps them out', async () => {
  const name = uniqueName('mal');
  await Api.register(env.server.url, name, 'Mallory');
  const a = await openPage(env.browser, env.server);
  const tickets = [];
  a.page.on('request', (req) => { if (req.url().includes('/gateway/ticket')) tickets.push(Date.now()); });
  await signInUI(a.page, name);
  await a.page.waitForFunction(() => true);
  const ticketsBeforeBan = tickets.length;
  const ban = spawnSync(parleyBin(), ['admin', 'ban', '--user', name, '--reason', 'spam', '--data-dir', env.server.dataDir], { encoding: 'utf8' });
  assert.equal(ban.status, 0, ban.stderr);
  const form = a.page.getByRole('form', { name: 'Sign in' });
  await form.waitFor({ timeout: 5000 });
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(tickets.length, ticketsBeforeBan, 'no reconnect attempt after 4003');
  const r = await fetch(`${env.server.url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: name, password: PASSWORD }),
  });
  assert.equal(r.status, 403);
  assert.equal((await r.json()).error.details.reason, 'banned');
  await a.context.close();
});
