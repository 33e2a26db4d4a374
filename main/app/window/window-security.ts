// The window's security settings in one place, as data, so a test can assert them without
// Electron (Electron security checklist; Mullvad's user-interface.ts; VS Code's window options).

/** Content Security Policy for the renderer: our own bundle only, no eval, no remote anything. */
export const RENDERER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

export interface SecureWebPreferences {
  contextIsolation: true;
  sandbox: true;
  nodeIntegration: false;
  nodeIntegrationInWorker: false;
  nodeIntegrationInSubFrames: false;
  webSecurity: true;
  allowRunningInsecureContent: false;
  webviewTag: false;
  spellcheck: false;
  preload: string;
  devTools: boolean;
}

export function secureWebPreferences(preloadPath: string, devTools: boolean): SecureWebPreferences {
  return {
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
    preload: preloadPath,
    devTools,
  };
}

/**
 * The one link the window may open outside itself: the login page control handed the engine
 * (AuthURL), in the system browser, and only http(s). Every other window.open stays denied.
 */
export function loginLinkToOpen(url: string, authURL: string | undefined): string | undefined {
  if (!authURL || url !== authURL) return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}
