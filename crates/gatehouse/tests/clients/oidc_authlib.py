"""A relying party nobody here wrote: Authlib's OAuth 2 client with joserfc signs a person in
through Gatehouse as a portal application would. Run by tests/it/oidc_conformance.rs:

    python3 oidc_authlib.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI USERNAME PASSWORD

Discovery; the authorization code flow with PKCE S256 and a nonce, the person walking
Gatehouse's own sign-in pages (password, then the texted code: the script prints `code?` and
reads it from standard input); the code exchanged with `client_secret_basic`; the ID token
verified against the JWKS (signature, issuer, audience, nonce, expiry); userinfo by header;
a refresh (the token rotated); RP-initiated logout with `id_token_hint` back to the registered
post-logout URI. It prints one line per check passed and ends with `done`.
"""

import re
import sys
import time
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def person_signs_in(browser: requests.Session, url: str, redirect_uri: str, username: str, password: str) -> str:
    """Follows the authorization request through the sign-in pages as a person would, and
    returns the redirect to the application (not followed: nothing listens there)."""
    r = browser.get(url, allow_redirects=False)
    for _ in range(30):
        if r.is_redirect:
            location = urljoin(r.url, r.headers["Location"])
            if location.startswith(redirect_uri):
                return location
            r = browser.get(location, allow_redirects=False)
            continue
        if r.status_code != 200:
            sys.exit(f"unexpected {r.status_code} at {r.url}: {r.text[:400]}")
        found = CSRF.search(r.text)
        if not found:
            sys.exit(f"no form at {r.url}: {r.text[:400]}")
        form = {"csrf_token": found.group(1)}
        path = urlparse(r.url).path
        if path.endswith("/signin"):
            form.update(username=username, password=password)
        elif path.endswith("/two-step/code"):
            print("code?", flush=True)
            form.update(action="verify", code=sys.stdin.readline().strip())
        elif path.endswith("/oauth2/consent"):
            # The form names the request it shows; a person's browser posts it back.
            shown = re.search(r'name="request" value="([^"]+)"', r.text)
            if not shown:
                sys.exit(f"the consent form names no request: {r.text[:400]}")
            form.update(decision="allow", request=shown.group(1))
        else:
            sys.exit(f"a page this person did not expect: {r.url}")
        r = browser.post(r.url, data=form, allow_redirects=False)
    sys.exit("too many steps")


def main() -> None:
    issuer, client_id, client_secret, redirect_uri, post_logout, username, password = sys.argv[1:8]
    meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == issuer, meta
    assert "S256" in meta["code_challenge_methods_supported"], meta
    print("discovery", flush=True)
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())

    client = OAuth2Session(
        client_id,
        client_secret,
        scope="openid profile email phone",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = generate_token(64)
    nonce = generate_token(24)
    url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)

    browser = requests.Session()
    callback = person_signs_in(browser, url, redirect_uri, username, password)
    answer = parse_qs(urlparse(callback).query)
    assert answer.get("iss") == [issuer], answer
    assert answer.get("state") == [state], answer
    print("authorized", flush=True)

    token = client.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    id_token = jwt.decode(token["id_token"], keys, algorithms=meta["id_token_signing_alg_values_supported"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        auth_time={"essential": True},
    ).validate(id_token.claims)
    assert id_token.header["alg"] == "ES256", id_token.header
    assert id_token.claims["auth_time"] <= time.time() + 5, id_token.claims
    sub = id_token.claims["sub"]
    print("id token", flush=True)

    info = client.get(meta["userinfo_endpoint"], timeout=10)
    info.raise_for_status()
    claims = info.json()
    assert claims["sub"] == sub, claims
    assert claims.get("preferred_username") == username, claims
    assert "@" in claims.get("email", ""), claims
    print("userinfo", flush=True)

    old_refresh = token["refresh_token"]
    fresh = client.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    assert fresh["refresh_token"] != old_refresh, "the refresh token is rotated"
    assert fresh["access_token"] != token["access_token"]
    print("refresh", flush=True)

    query = urlencode({"id_token_hint": token["id_token"], "post_logout_redirect_uri": post_logout, "state": "bye"})
    r = browser.get(f"{meta['end_session_endpoint']}?{query}", allow_redirects=False)
    assert r.is_redirect and r.headers["Location"].startswith(post_logout), (r.status_code, r.headers)
    print("logout", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
