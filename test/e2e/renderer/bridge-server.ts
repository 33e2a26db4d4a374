// The Chromium harness's stand-in for Electron main is the product's own `meshtray web` server
// (main/web/web-server.ts): the built renderer plus the prebuilt browser shim (window.meshtray from
// the preload's buildBridge()), calls through the SAME IpcRouter and AppController as Electron
// main, with the web server's token, Host, Origin and CSP checks on. Only the test defaults live here.
import { WebServer, type WebServerOptions } from '../../../main/web/web-server.js';

export type BridgeOptions = WebServerOptions;

export class RendererBridge extends WebServer {
  constructor(o: BridgeOptions) {
    super({ host: { mode: 'attached', detail: 'test bridge' }, ...o });
  }
}
