// Runs in the browser page `meshtray web` serves, before the renderer bundle: builds window.meshtray
// with the SAME buildBridge() the Electron preload uses, over fetch + EventSource to the web server
// (main/web/web-server.ts) instead of ipcRenderer. Bundled at build time by
// scripts/build-renderer.mjs into dist/web/web-shim.js.
//
// The run's token arrives once in the URL fragment (#token=…, never sent to any server, so it is in
// no access log). It is kept in sessionStorage (this tab, this origin), removed from the address
// bar, sent as a header on every call, and traded once for an HttpOnly cookie so EventSource (which
// cannot send headers) and a reload without the fragment work too.
import { buildBridge } from '../../../preload/bridge.js';
import { appChannel } from '../../../preload/channels.js';

/** Same as web-security.ts TOKEN_HEADER (this bundle cannot import Node modules). */
const TOKEN_HEADER = 'x-meshtray-token';
const STORAGE_KEY = 'meshtray-web-token';

function takeToken(): string | undefined {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    const t = decodeURIComponent(m[1]!);
    try {
      sessionStorage.setItem(STORAGE_KEY, t);
    } catch {
      /* storage disabled: the cookie still carries the session */
    }
    history.replaceState(null, '', location.pathname + location.search);
    return t;
  }
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

const token = takeToken();
const authHeaders: Record<string, string> = token ? { [TOKEN_HEADER]: token } : {};
// Without a token in this tab, an earlier visit's cookie may still be valid: try the calls anyway.
let openLoginInPage = false;
const ready: Promise<void> = token
  ? fetch('./session', { method: 'POST', headers: authHeaders }).then(
      async (r) => {
        if (r.ok) openLoginInPage = ((await r.json()) as { openLoginInPage?: unknown }).openLoginInPage === true;
      },
      () => undefined,
    )
  : Promise.resolve();

/**
 * `meshtray web` has no system browser to hand the AuthURL to: the page opens it in a new tab
 * itself. Only a link that appears while this page watches (a Log in click just gave the page the
 * user activation a new tab needs); one already there at load stays a visible link, not a popup.
 */
let loginSeen: string | undefined | null = null; // null: no app state yet
function maybeOpenLogin(state: unknown): void {
  const login = (state as { login?: { phase?: unknown; authURL?: unknown } } | null)?.login;
  const url = login?.phase === 'waiting-for-browser' && typeof login.authURL === 'string' ? login.authURL : undefined;
  const first = loginSeen === null;
  if (url === loginSeen) return;
  loginSeen = url;
  if (first || !url || !openLoginInPage || !/^https?:\/\//.test(url)) return;
  window.open(url, '_blank', 'noopener,noreferrer');
}

const NO_TOKEN = 'This page needs the link that `meshtray web` printed (it ends in #token=…). Open that link again.';

function failure(code: string, message: string): unknown {
  return { ok: false, error: { code, message } };
}

async function post(channel: string, payload: unknown): Promise<unknown> {
  await ready;
  const res = await fetch(`./ipc/${encodeURIComponent(channel)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders },
    body: JSON.stringify(payload ?? {}),
  });
  const text = await res.text();
  if (res.status === 403) return failure('ERR_FORBIDDEN', NO_TOKEN);
  try {
    return JSON.parse(text);
  } catch {
    return failure('ERR_INTERNAL', `meshtray web answered ${res.status}: ${text.slice(0, 200)}`);
  }
}

/** The page's own clipboard: the server has none to offer (it may be another user, or root). */
async function writeClipboard(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Older permission models: the selection + execCommand route still works on a click.
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    } finally {
      ta.remove();
    }
  }
}

const COPY = appChannel('copyText');

function stream(kind: 'notify' | 'app', cb: (v: unknown) => void): () => void {
  let es: EventSource | undefined;
  let closed = false;
  void ready.then(() => {
    if (closed) return;
    es = new EventSource(`./events?stream=${kind}`);
    es.onmessage = (e: MessageEvent<string>) => {
      try {
        cb(JSON.parse(e.data));
      } catch {
        /* not JSON: the renderer's schema check would drop it anyway */
      }
    };
  });
  return () => {
    closed = true;
    es?.close();
  };
}

const bridge = buildBridge({
  async invoke(channel, payload) {
    const env = (await post(channel, payload)) as { ok?: boolean };
    // The server validated the request (same schema as in Electron); the copy itself happens here.
    if (channel === COPY && env.ok === true) {
      const text = (payload as { Text?: unknown }).Text;
      if (typeof text !== 'string' || !(await writeClipboard(text))) {
        return failure('ERR_INTERNAL', 'The browser did not allow copying; select the address and copy it by hand.');
      }
    }
    return env;
  },
  onNotify: (cb) => stream('notify', cb),
  onAppState: (cb) =>
    stream('app', (v) => {
      maybeOpenLogin(v);
      cb(v);
    }),
});
(window as unknown as { meshtray: unknown }).meshtray = bridge;
