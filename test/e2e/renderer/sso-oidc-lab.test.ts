// Real SSO in the namespace lab (lab.md §7): the IdP (test/lab/oidc/idp.mjs) runs in Headscale's
// namespace on 172.16.0.10:9000, Headscale (the lab's own) gets the oidc: block, and Chromium runs
// inside host a1's namespace behind its NAT, the way a user's browser reaches both over the
// "internet". A tailscaled node (a1) and a Meshtray node (m1, meshtrayd) each log in interactively
// through the IdP's login and consent pages and Headscale's confirmation page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { withLab } from '../../lab/with-lab.js';
import { HS_IP } from '../../lab/lab.js';
import { launchChromiumInNamespace, loopbackOnlyPage, skipWithoutChromium, type LaunchedBrowser } from './browser.js';
import { IdpProcess, IDP_CLIENT_SECRET } from './idp-process.js';
import { completeSso, oidcConfigBlock } from './sso-steps.js';

test('lab SSO: IdP and Headscale in namespaces, Chromium in a1\'s namespace; tailscaled and meshtrayd nodes join as alice', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t, 'lab SSO test')) return;
  await withLab(t, { name: 'sso-oidc', derpRegions: 1, hosts: [{ name: 'a1', join: false }, { name: 'm1', peer: 'meshtrayd', join: false }] }, async (lab) => {
    let idp: IdpProcess | undefined;
    let chromium: LaunchedBrowser | undefined;
    try {
      const issuer = `http://${HS_IP}:9000`;
      idp = await IdpProcess.start([`${lab.loginServer}/oidc/callback`], { netns: lab.ns('hs'), issuer });
      // Headscale rewrites its config on every start: add the oidc: block after its own writer, then restart.
      const hs = lab.headscale;
      const writeBase = hs.writeConfig.bind(hs);
      hs.writeConfig = () => {
        writeBase();
        appendFileSync(hs.configPath, oidcConfigBlock(issuer, IDP_CLIENT_SECRET, ['alice@example.com']));
      };
      await hs.restart();

      // Chromium inside a1's namespace, as a browser on that machine.
      chromium = await launchChromiumInNamespace(lab.ns('a1'));

      for (const [name, prefix] of [['a1', 'lab-sso-tailscaled'], ['m1', 'lab-sso-meshtrayd']] as const) {
        const { authUrl, done } = await lab.peer(name).upInteractive({ loginServer: lab.loginServer, hostname: `sso-${name}` });
        assert.match(authUrl, new RegExp(`^${lab.loginServer}/register/`));
        // Only the lab's server address: the IdP page's web-font link must not leave the machine.
        const page = await loopbackOnlyPage(chromium.browser, { width: 520, height: 900 }, [HS_IP]);
        await page.goto(authUrl);
        await completeSso(page, 'alice', prefix);
        const r = await done;
        assert.equal(r.code, 0, `${name} up failed: ${r.stderr}`);
        const node = await hs.nodeByName(`sso-${name}`);
        assert.ok(node, `sso-${name} registered`);
        assert.equal(node.user?.name, 'alice');
        assert.equal(node.register_method, 3, 'registered through OIDC');
        await page.context().close();
      }
      const st = await lab.peer('m1').status();
      assert.equal(st.BackendState, 'Running');
    } finally {
      await chromium?.close();
      idp?.stop();
    }
  });
});
