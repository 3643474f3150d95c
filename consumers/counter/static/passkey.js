// The counter's two passkey pages (templates/signin_passkey.html, enrol.html): the browser's WebAuthn calls,
// with options from the hub and answers relayed back to it as they are (views/passkeys.py).
"use strict";
(function () {
  const form = document.querySelector("form[data-passkey]");
  if (!form || !window.PublicKeyCredential) {
    return;
  }
  const status = document.getElementById("passkey-status");
  const english = document.documentElement.lang === "en";

  function say(message, ok) {
    status.textContent = message;
    status.className = ok ? "notice" : "field-error";
    status.hidden = false;
  }

  async function post(path, fields) {
    const response = await fetch(path, {method: "POST", body: new URLSearchParams(fields), credentials: "same-origin"});
    const data = await response.json();
    if (!response.ok) {
      throw data.error;
    }
    return data;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const csrf = form.elements.csrf.value;
    const officer = form.elements.officer_id.value;
    try {
      if (form.dataset.passkey === "signin") {
        const begun = await post("/signin/passkey/begin", {csrf: csrf, officer_id: officer});
        const credential = await navigator.credentials.get(
          {publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(begun.options)});
        const done = await post("/signin/passkey/finish", {
          csrf: csrf, officer_id: officer, statement: begun.statement, next: form.elements.next.value,
          assertion: JSON.stringify(credential.toJSON())});
        window.location.assign(done.next);
      } else {
        const code = form.elements.code.value;
        const begun = await post("/enrol/begin", {csrf: csrf, officer_id: officer, code: code});
        const credential = await navigator.credentials.create(
          {publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(begun.options)});
        await post("/enrol/finish", {csrf: csrf, officer_id: officer, code: code,
                                     credential: JSON.stringify(credential.toJSON())});
        say(form.dataset.done, true);
      }
    } catch (error) {
      say(Array.isArray(error) ? error[english ? 1 : 0] : form.dataset.fail, false);
    }
  });
})();
