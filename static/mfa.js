// Passkeys: registration on the security page and the second step of
// signing in. The server sends WebAuthn options as JSON with binary fields
// in base64url; the browser's API wants ArrayBuffers, and its answers go
// back as base64url again.
(() => {
  "use strict";
  const toBuf = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
  const toB64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  async function post(url, csrf, body, type) {
    const res = await fetch(url, {method: "POST", credentials: "same-origin", body,
      headers: {"X-CSRF-Token": csrf, "Content-Type": type, "Accept": "application/json"}});
    const data = await res.json().catch(() => ({error: "The server answered " + res.status + "."}));
    if (!res.ok) throw new Error(data.error || "The server answered " + res.status + ".");
    return data;
  }

  function show(el, err) {
    el.textContent = err.name === "NotAllowedError" ? "The passkey request was cancelled or timed out." : err.message;
    el.hidden = false;
  }

  const reg = document.getElementById("passkey-register");
  if (reg) {
    reg.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = document.getElementById("passkey-register-error");
      err.hidden = true;
      const csrf = reg.querySelector("[name=_csrf]").value;
      try {
        const opts = await post(reg.dataset.begin, csrf, new URLSearchParams(new FormData(reg)), "application/x-www-form-urlencoded");
        const pk = opts.publicKey;
        pk.challenge = toBuf(pk.challenge);
        pk.user.id = toBuf(pk.user.id);
        (pk.excludeCredentials || []).forEach((c) => { c.id = toBuf(c.id); });
        const cred = await navigator.credentials.create({publicKey: pk});
        const answer = {id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
          response: {clientDataJSON: toB64(cred.response.clientDataJSON), attestationObject: toB64(cred.response.attestationObject),
            transports: cred.response.getTransports ? cred.response.getTransports() : []}};
        const done = await post(reg.dataset.finish, csrf, JSON.stringify(answer), "application/json");
        location.assign(done.next);
      } catch (e) { show(err, e); }
    });
  }

  const login = document.getElementById("passkey-login");
  if (login) {
    document.getElementById("passkey-login-button").addEventListener("click", async () => {
      const err = document.getElementById("passkey-login-error");
      err.hidden = true;
      const csrf = login.dataset.csrf;
      try {
        const opts = await post(login.dataset.begin, csrf, "", "application/x-www-form-urlencoded");
        const pk = opts.publicKey;
        pk.challenge = toBuf(pk.challenge);
        (pk.allowCredentials || []).forEach((c) => { c.id = toBuf(c.id); });
        const cred = await navigator.credentials.get({publicKey: pk});
        const r = cred.response;
        const answer = {id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
          response: {clientDataJSON: toB64(r.clientDataJSON), authenticatorData: toB64(r.authenticatorData),
            signature: toB64(r.signature), userHandle: r.userHandle ? toB64(r.userHandle) : null}};
        const done = await post(login.dataset.finish, csrf, JSON.stringify(answer), "application/json");
        location.assign(done.next);
      } catch (e) { show(err, e); }
    });
  }
})();
