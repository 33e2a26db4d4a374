// What a person does in the browser during SSO (lab.md §7.3): the IdP's login page, its consent
// page, then Headscale's "Confirm node registration" page. Screenshots of each page.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { shot } from './support.js';

export async function completeSso(page: Page, user: string, prefix: string): Promise<void> {
  await page.locator('input[name="login"]').waitFor({ timeout: 30_000 });
  assert.match(page.url(), /\/interaction\//, 'the IdP login page');
  await page.locator('input[name="login"]').fill(user);
  await page.locator('input[name="password"]').fill('any-password');
  await shot(page, `${prefix}-1-idp-login`);
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).waitFor({ timeout: 20_000 });
  await shot(page, `${prefix}-2-idp-consent`);
  await page.getByRole('button', { name: 'Continue' }).click();
  const confirm = page.getByRole('button', { name: /Confirm/i });
  await confirm.waitFor({ timeout: 20_000 });
  assert.match(await page.content(), /Confirm node registration/i, "Headscale's confirmation page");
  await shot(page, `${prefix}-3-headscale-confirm`);
  await confirm.click();
  await page.waitForLoadState();
  await shot(page, `${prefix}-4-headscale-done`);
}

/** Headscale's oidc: block (lab.md §7.2; headscale config-example.yaml). */
export function oidcConfigBlock(issuer: string, clientSecret: string, allowedUsers: readonly string[]): string {
  return [
    'oidc:',
    '  only_start_if_oidc_is_available: true',
    `  issuer: "${issuer}"`,
    '  client_id: "headscale"',
    `  client_secret: "${clientSecret}"`,
    '  scope: ["openid", "profile", "email"]',
    '  email_verified_required: true',
    `  allowed_users: [${allowedUsers.map((u) => JSON.stringify(u)).join(', ')}]`,
    '  pkce:',
    '    enabled: true',
    '    method: S256',
    '',
  ].join('\n');
}
