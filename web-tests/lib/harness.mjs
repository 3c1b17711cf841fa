// Test harness: a real `parley serve` on a free port with a fresh data
// directory, a real Chromium (Debian's, driven by playwright-core), and a
// few REST helpers for setting up data faster than through the UI.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..');
export const PASSWORD = 'correct horse battery';

/** The `parley` binary: $PARLEY_BIN, else the workspace's debug build. */
export function parleyBin() {
  if (process.env.PARLEY_BIN) return process.env.PARLEY_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(root, '..', 'target');
  for (const profile of ['debug', 'release']) {
    const p = join(target, profile, 'parley');
    if (existsSync(p)) return p;
  }
  throw new Error('no parley binary: build it (cargo build -p parley-server) or set PARLEY_BIN');
}

/** Starts a server; resolves once it answers /readyz. */
export async function startServer(extraArgs = []) {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-web-'));
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--rate-limits', 'off', ...extraArgs];
  // The client under test is the one in the source tree, so that a change
  // to it needs no Rust rebuild; the embedded copy is the same files.
  if (!process.env.PARLEY_EMBEDDED_WEB) args.push('--web-dir', join(root, '..', 'crates', 'parley-web', 'web'));
  const child = spawn(parleyBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log = (log + d).slice(-20000); });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/running at (http:\/\/[^\s]+?)\/?\s/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}:\n${log}`)); });
  });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    await sleep(100);
  }
  return {
    url,
    dataDir,
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * One server and one browser for a test file: started before its tests,
 * stopped after them. Returns `{server, browser}`, filled in by `before`.
 */
export function serverAndBrowser() {
  const env = { server: null, browser: null };
  before(async () => {
    env.server = await startServer();
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // Running as root (CI containers) needs the sandbox off.
    args: ['--no-sandbox'],
  });
}

/**
 * A browser context and page for one person. Console errors, page errors
 * and CSP violations are collected: a test ends with `expectClean()`.
 */
export async function openPage(browser, server, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // Expected while a test holds the browser offline or stops the server.
    if (/ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|Failed to load resource|WebSocket connection to/.test(text)) return;
    problems.push(`console: ${text}`);
  });
  await page.goto(server.url + '/');
  return {
    context,
    page,
    problems,
    expectClean() {
      if (problems.length) throw new Error(`browser problems:\n${problems.join('\n')}`);
    },
  };
}

let counter = 0;
export function uniqueName(prefix) {
  counter += 1;
  return `${prefix}${Date.now().toString(36).slice(-4)}${counter}`.toLowerCase();
}

/** Signs up through the UI; resolves when the conversation list shows. */
export async function signUpUI(page, username, displayName) {
  await page.getByRole('button', { name: 'Create an account' }).click();
  const form = page.getByRole('form', { name: 'Sign up' });
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Display name').fill(displayName);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('navigation', { name: 'Conversations' }).waitFor();
}

export async function signInUI(page, username) {
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Conversations' }).waitFor();
}

/** REST calls as one user, for setting up data. */
export class Api {
  constructor(base) {
    this.base = `${base}/api/v1`;
    this.token = null;
    this.user = null;
  }

  async call(method, path, body) {
    const r = await fetch(this.base + path, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    const json = text ? JSON.parse(text) : null;
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return json;
  }

  static async register(base, username, displayName) {
    const api = new Api(base);
    const auth = await api.call('POST', '/auth/register', { username, password: PASSWORD, display_name: displayName });
    api.token = auth.access_token;
    api.user = auth.user;
    return api;
  }

  send(conversationId, text) {
    return this.call('POST', `/conversations/${conversationId}/messages`, { client_id: randomUUID(), text });
  }

  /** POST /media with `bytes` as the file part: `{status, body}` (the media object or the error). */
  async upload(name, bytes) {
    const form = new FormData();
    form.append('file', new Blob([bytes]), name);
    const r = await fetch(`${this.base}/media`, { method: 'POST', headers: { authorization: `Bearer ${this.token}` }, body: form });
    return { status: r.status, body: await r.json() };
  }

  /** Sends a message with attachments (media ids) and an optional caption. */
  sendMedia(conversationId, attachments, text) {
    return this.call('POST', `/conversations/${conversationId}/messages`, { client_id: randomUUID(), text, attachments });
  }
}

/** Saves a screenshot for a person to look at (not committed). */
export async function screenshot(page, name) {
  const dir = join(root, 'screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

/** Polls `fn` until it returns a truthy value. */
export async function eventually(fn, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}
