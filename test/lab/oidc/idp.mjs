#!/usr/bin/env node
// A tiny real OpenID Provider for the SSO lab (lab.md §7.1): the `oidc-provider` package (panva,
// OpenID-certified) with its development interactions, i.e. a real login page (any username, any
// password; the username becomes the subject) and a real consent page, code flow with PKCE,
// signed ID tokens and userinfo. Headscale is its only client.
//
// Env: ISSUER (e.g. http://198.51.100.20:9000, no trailing slash), REDIRECT_URIS (comma list, e.g.
// http://198.51.100.10:8080/oidc/callback), LISTEN_HOST, LISTEN_PORT (default: from ISSUER),
// CLIENT_ID (default headscale), CLIENT_SECRET (default lab-secret).
// Prints "idp ready <issuer>" on stdout once listening; exits on SIGTERM/SIGINT.
import Provider from 'oidc-provider';

const issuer = process.env.ISSUER;
if (!issuer) {
  process.stderr.write('idp: ISSUER is required\n');
  process.exit(2);
}
const issuerUrl = new URL(issuer);
const host = process.env.LISTEN_HOST ?? issuerUrl.hostname;
const port = Number(process.env.LISTEN_PORT ?? issuerUrl.port ?? 80);
const redirectUris = (process.env.REDIRECT_URIS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
if (redirectUris.length === 0) {
  process.stderr.write('idp: REDIRECT_URIS is required\n');
  process.exit(2);
}

// Lab accounts: a known address book; anyone else gets <name>@example.com.
const directory = { alice: 'alice@example.com', bob: 'bob@example.com' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.CLIENT_ID ?? 'headscale',
      client_secret: process.env.CLIENT_SECRET ?? 'lab-secret',
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
  // Put the scope claims in the ID token too (Headscale also reads userinfo when sub matches).
  conformIdTokenClaims: false,
  cookies: { keys: ['meshtray-lab-idp'] },
  pkce: { required: () => false },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, preferred_username: sub, name: `Lab ${sub}`, email: directory[sub] ?? `${sub}@example.com`, email_verified: true };
      },
    };
  },
});
// http issuer behind no proxy: tell Koa not to trust X-Forwarded-* (the default) and allow http.
provider.proxy = false;

const server = provider.listen(port, host, () => {
  process.stdout.write(`idp ready ${issuer}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
