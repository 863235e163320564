// A second relying party nobody here wrote: the npm package openid-client (panva) signs a person
// in through Gatehouse as a portal application would. Run by tests/it/oidc_conformance.rs:
//
//   node oidc_openid_client.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI USERNAME PASSWORD
//
// Discovery; the authorization code flow with PKCE S256, state and nonce, the person walking
// Gatehouse's own sign-in pages (the script prints `code?` and reads the texted code from
// standard input); the code exchanged with `client_secret_post` (the library's default for a
// secret) and the ID token validated by the library against the JWKS (signature, `iss` of the
// authorization response per RFC 9207, audience, nonce, expiry); userinfo; a refresh; the
// end-session URL followed back to the registered post-logout URI. One line per check, then
// `done`.

import * as client from 'openid-client';
import readline from 'node:readline';

const [issuer, clientId, clientSecret, redirectUri, postLogout, username, password] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once('line', resolve));

function fail(message) {
  console.error(message);
  process.exit(1);
}

// A browser of one origin: cookies kept by name, redirects taken one at a time.
const jar = new Map();
async function browse(url, init = {}) {
  const headers = new Headers(init.headers ?? {});
  if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
  return res;
}

async function personSignsIn(start) {
  let res = await browse(start);
  let url = start;
  for (let step = 0; step < 30; step++) {
    if (res.status >= 300 && res.status < 400) {
      const location = new URL(res.headers.get('location'), url).href;
      if (location.startsWith(redirectUri)) return location;
      url = location;
      res = await browse(url);
      continue;
    }
    const page = await res.text();
    if (res.status !== 200) fail(`unexpected ${res.status} at ${url}: ${page.slice(0, 400)}`);
    const csrf = page.match(/name="csrf_token" value="([^"]+)"/);
    if (!csrf) fail(`no form at ${url}: ${page.slice(0, 400)}`);
    const form = new URLSearchParams({ csrf_token: csrf[1] });
    const path = new URL(url).pathname;
    if (path.endsWith('/signin')) {
      form.set('username', username);
      form.set('password', password);
    } else if (path.endsWith('/two-step/code')) {
      console.log('code?');
      form.set('action', 'verify');
      form.set('code', (await nextLine()).trim());
    } else if (path.endsWith('/oauth2/consent')) {
      // The form names the request it shows; a person's browser posts it back.
      const shown = page.match(/name="request" value="([^"]+)"/);
      if (!shown) fail(`the consent form names no request: ${page.slice(0, 400)}`);
      form.set('decision', 'allow');
      form.set('request', shown[1]);
    } else {
      fail(`a page this person did not expect: ${url}`);
    }
    res = await browse(url, {
      method: 'POST',
      body: form,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  }
  fail('too many steps');
}

const options = { execute: [client.allowInsecureRequests] };
const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, options);
if (config.serverMetadata().issuer !== issuer) fail('issuer differs');
console.log('discovery');

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authorize = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'email openid profile',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});
const callback = await personSignsIn(authorize.href);
console.log('authorized');

const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
if (!claims?.sub || claims.aud !== clientId) fail(`ID token claims: ${JSON.stringify(claims)}`);
console.log('id token');

const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
if (info.preferred_username !== username || !info.email) fail(`userinfo: ${JSON.stringify(info)}`);
console.log('userinfo');

const fresh = await client.refreshTokenGrant(config, tokens.refresh_token);
if (!fresh.refresh_token || fresh.refresh_token === tokens.refresh_token) fail('the refresh token is not rotated');
console.log('refresh');

const end = client.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: postLogout,
  state: 'bye',
});
const out = await browse(end.href);
const back = out.headers.get('location') ?? '';
if (out.status < 300 || out.status >= 400 || !back.startsWith(postLogout)) fail(`logout: ${out.status} ${back}`);
console.log('logout');
console.log('done');
lines.close();
