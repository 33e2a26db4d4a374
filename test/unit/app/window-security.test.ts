// The window opens nothing outside itself except the login page control handed the engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loginLinkToOpen } from '../../../main/app/window/window-security.js';

test('loginLinkToOpen: only the current AuthURL, only http(s)', () => {
  const auth = 'https://hs.example.com/register/abc123';
  assert.equal(loginLinkToOpen(auth, auth), auth);
  assert.equal(loginLinkToOpen('http://127.0.0.1:8080/register/x', 'http://127.0.0.1:8080/register/x'), 'http://127.0.0.1:8080/register/x');
  assert.equal(loginLinkToOpen(auth, undefined), undefined, 'no login in progress: nothing opens');
  assert.equal(loginLinkToOpen('https://evil.example/', auth), undefined, 'another URL stays denied');
  assert.equal(loginLinkToOpen(`${auth}?x=1`, auth), undefined, 'not even a variation of it');
  assert.equal(loginLinkToOpen('file:///etc/passwd', 'file:///etc/passwd'), undefined, 'only http(s), even if control sent it');
  assert.equal(loginLinkToOpen('javascript:alert(1)', 'javascript:alert(1)'), undefined);
});
