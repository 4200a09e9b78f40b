// Lockbox passkeys: the only script of the portal, served from the portal
// itself (CSP script-src 'self') and loaded only by the pages that use it.
//
// Registration (the Passkeys page): the form carries the options of
// navigator.credentials.create in data-options (JSON, binary members in
// base64url); the authenticator's answer is posted in the hidden field
// "credential" as JSON.
//
// Signing a decision (a request's page, in a tenant that requires
// passkeys): a form with data-passkey signs the decision statement
// (docs/passkeys.md) — tenant, request, action, duration, reason and
// time — with navigator.credentials.get, its challenge the statement's
// SHA-256, and posts the assertion in the passkey_* hidden fields.
(function () {
  "use strict";

  function fromB64url(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function field(form, name) { return form.querySelector('[name="' + name + '"]'); }

  // set fills the hidden field name (made if missing): never a button of
  // that name, which form.submit() does not send.
  function set(form, name, value) {
    var f = form.querySelector('input[type="hidden"][name="' + name + '"]');
    if (!f) {
      f = document.createElement("input");
      f.type = "hidden";
      f.name = name;
      form.appendChild(f);
    }
    f.value = value;
  }

  function problem(form, message) {
    var p = form.querySelector(".passkey-problem");
    if (p) {
      p.textContent = message;
      p.hidden = false;
      p.focus();
    }
  }

  // The canonical statement: "lockbox-decision-v1\n", then per field
  // "<name>=<length in UTF-8 bytes>:<value>\n".
  function statement(fields) {
    var enc = new TextEncoder(), out = "lockbox-decision-v1\n";
    fields.forEach(function (f) { out += f[0] + "=" + enc.encode(f[1]).length + ":" + f[1] + "\n"; });
    return enc.encode(out);
  }

  function register(form) {
    form.addEventListener("submit", function (ev) {
      if (form.dataset.done === "1") return;
      ev.preventDefault();
      if (!window.PublicKeyCredential) {
        problem(form, "This browser cannot use passkeys.");
        return;
      }
      var o = JSON.parse(form.dataset.options);
      o.challenge = fromB64url(o.challenge);
      o.user.id = fromB64url(o.user.id);
      (o.excludeCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
      navigator.credentials.create({ publicKey: o }).then(function (cred) {
        var r = cred.response;
        set(form, "credential", JSON.stringify({
          id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
          response: { clientDataJSON: toB64url(r.clientDataJSON), attestationObject: toB64url(r.attestationObject),
            transports: r.getTransports ? r.getTransports() : [] },
          clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
        }));
        form.dataset.done = "1";
        form.submit();
      }).catch(function (e) {
        problem(form, "The passkey was not created: " + (e && e.message ? e.message : e));
      });
    });
  }

  function sign(form) {
    form.addEventListener("submit", function (ev) {
      if (form.dataset.done === "1") return;
      ev.preventDefault();
      var action = ev.submitter && ev.submitter.value ? ev.submitter.value : form.dataset.action;
      var reason = field(form, "reason").value;
      if (reason.trim() === "") {
        problem(form, "Give a reason.");
        return;
      }
      var duration = "";
      if (action === "approve" && field(form, "duration")) duration = field(form, "duration").value.trim();
      var time = new Date().toISOString();
      var o = JSON.parse(form.dataset.passkey);
      var text = statement([["tenant", o.tenant], ["request", o.request], ["action", action], ["duration", duration],
        ["reason", reason], ["time", time]]);
      crypto.subtle.digest("SHA-256", text).then(function (digest) {
        return navigator.credentials.get({ publicKey: {
          challenge: digest, rpId: o.options.rpId, timeout: o.options.timeout, userVerification: "required",
          allowCredentials: o.options.allowCredentials.map(function (c) { return { type: c.type, id: fromB64url(c.id) }; })
        } });
      }).then(function (cred) {
        var r = cred.response;
        set(form, "action", action);
        set(form, "passkey_time", time);
        set(form, "passkey_credential", toB64url(cred.rawId));
        set(form, "passkey_authenticator_data", toB64url(r.authenticatorData));
        set(form, "passkey_client_data", toB64url(r.clientDataJSON));
        set(form, "passkey_signature", toB64url(r.signature));
        set(form, "passkey_user_handle", r.userHandle ? toB64url(r.userHandle) : "");
        form.dataset.done = "1";
        form.submit();
      }).catch(function (e) {
        problem(form, "The decision was not signed: " + (e && e.message ? e.message : e));
      });
    });
  }

  document.querySelectorAll("form[data-options]").forEach(register);
  document.querySelectorAll("form[data-passkey]").forEach(sign);
})();
