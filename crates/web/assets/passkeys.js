// Passkey ceremonies for Gatehouse's pages. The only script the portal serves: a form marked
// `data-passkey` asks the server for the ceremony's options (posting the form's own fields),
// hands them to the browser's WebAuthn API, then posts the authenticator's answer with the
// form. Without JavaScript the page's <noscript> text says so; without WebAuthn this script
// shows the form's `data-passkey-missing` text instead of the form.
(function () {
  "use strict";

  function fromB64url(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64url(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: fromB64url(pk.user.id) });
    pk.excludeCredentials = (pk.excludeCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: fromB64url(c.id) });
    });
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64url(pk.challenge);
    pk.allowCredentials = (pk.allowCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: fromB64url(c.id) });
    });
    return { publicKey: pk };
  }

  function registration(c) {
    return {
      id: c.id,
      rawId: toB64url(c.rawId),
      type: c.type,
      response: {
        attestationObject: toB64url(c.response.attestationObject),
        clientDataJSON: toB64url(c.response.clientDataJSON),
        transports: c.response.getTransports ? c.response.getTransports() : undefined
      },
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {}
    };
  }

  function assertion(c) {
    return {
      id: c.id,
      rawId: toB64url(c.rawId),
      type: c.type,
      response: {
        authenticatorData: toB64url(c.response.authenticatorData),
        clientDataJSON: toB64url(c.response.clientDataJSON),
        signature: toB64url(c.response.signature),
        userHandle: c.response.userHandle ? toB64url(c.response.userHandle) : null
      },
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {}
    };
  }

  function showError(form, text, field) {
    var box = form.querySelector("[data-passkey-error]");
    if (box) {
      box.textContent = text;
      box.hidden = false;
    }
    if (field) {
      var input = form.querySelector("[name='" + field + "']");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        if (box && box.id) { input.setAttribute("aria-describedby", box.id); }
        input.focus();
      }
    }
  }

  function setUp(form) {
    var missing = document.getElementById(form.getAttribute("data-passkey-missing"));
    if (!window.PublicKeyCredential || !navigator.credentials) {
      if (missing) { missing.hidden = false; }
      return;
    }
    form.hidden = false;
    var kind = form.getAttribute("data-passkey");
    var busy = false;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (busy) { return; }
      busy = true;
      var fields = new URLSearchParams(new FormData(form));
      fields.delete("ceremony");
      fields.delete("credential");
      fetch(form.getAttribute("data-options"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: fields.toString()
      }).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      }).then(function (res) {
        if (!res.ok) {
          throw { shown: true, text: res.body.message, field: res.body.field };
        }
        form.querySelector("[name='ceremony']").value = res.body.ceremony;
        if (kind === "register") {
          return navigator.credentials.create(creationOptions(res.body.options)).then(registration);
        }
        return navigator.credentials.get(requestOptions(res.body.options)).then(assertion);
      }).then(function (answer) {
        form.querySelector("[name='credential']").value = JSON.stringify(answer);
        form.submit();
      }).catch(function (e) {
        busy = false;
        if (e && e.shown) {
          showError(form, e.text, e.field);
        } else {
          showError(form, "The passkey was not used. Try again, or use another way.", null);
        }
      });
    });
  }

  document.querySelectorAll("form[data-passkey]").forEach(setUp);
})();
