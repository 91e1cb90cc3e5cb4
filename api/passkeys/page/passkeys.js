// The passkeys page (GET /account/passkeys): the API's passkey flows from a
// browser. Tokens live in this page's memory only (never storage).
"use strict";

const $ = (id) => document.getElementById(id);
let tokens = null;
let challengeToken = null;

function b64urlToBytes(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function bytesToB64url(buffer) {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// options JSON -> what navigator.credentials takes (the browser's own parser when it has one)
function creationOptions(json) {
  if (PublicKeyCredential.parseCreationOptionsFromJSON) {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return { ...json, challenge: b64urlToBytes(json.challenge),
           user: { ...json.user, id: b64urlToBytes(json.user.id) },
           excludeCredentials: (json.excludeCredentials || []).map(
             (c) => ({ ...c, id: b64urlToBytes(c.id) })) };
}

function requestOptions(json) {
  if (PublicKeyCredential.parseRequestOptionsFromJSON) {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return { ...json, challenge: b64urlToBytes(json.challenge),
           allowCredentials: (json.allowCredentials || []).map(
             (c) => ({ ...c, id: b64urlToBytes(c.id) })) };
}

// a PublicKeyCredential -> the JSON the API takes
function credentialJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bytesToB64url(r.attestationObject);
    if (r.getTransports) response.transports = r.getTransports();
  } else {
    response.authenticatorData = bytesToB64url(r.authenticatorData);
    response.signature = bytesToB64url(r.signature);
    if (r.userHandle) response.userHandle = bytesToB64url(r.userHandle);
  }
  return { id: credential.id, rawId: bytesToB64url(credential.rawId), type: credential.type,
           response, clientExtensionResults: credential.getClientExtensionResults() };
}

async function api(method, path, body, auth = true) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && tokens) headers["Authorization"] = "Bearer " + tokens.access_token;
  const response = await fetch(path, { method, headers,
    body: body === undefined ? undefined : JSON.stringify(body) });
  const payload = await response.json();
  if (payload.meta.code !== 200) {
    const error = new Error(payload.meta.description || payload.meta.message);
    error.reason = payload.meta.reason;
    throw error;
  }
  return payload.data;
}

function say(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function signedIn(pair, how) {
  tokens = pair;
  challengeToken = null;
  $("second-factor").hidden = true;
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  const twoFactor = pair.access_token.startsWith("2f.");
  $("token-prefix").textContent = twoFactor ? "2f." : pair.access_token.slice(0, 6) + "…";
  $("token-kind").textContent = twoFactor ? "(two-factor session)" : "(password-only session)";
  document.body.dataset.token = twoFactor ? "2f" : "plain";
  say("Signed in " + how + ".");
  return listPasskeys();
}

async function listPasskeys() {
  const list = $("passkeys");
  list.textContent = "";
  for (const passkey of await api("GET", "/v1/auth/passkeys")) {
    const item = document.createElement("li");
    item.textContent = passkey.name + (passkey.disabled ? " (disabled)" : "")
      + " — added " + passkey.created_at.slice(0, 10);
    list.appendChild(item);
  }
  document.body.dataset.passkeys = String(list.children.length);
}

async function guarded(action) {
  try {
    await action();
  } catch (error) {
    say(error.message + (error.reason ? " (" + error.reason + ")" : ""), true);
  }
}

$("password-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const data = await api("POST", "/v1/auth/login",
                           { login: $("login").value, password: $("password").value }, false);
    if (data.two_factor_required) {
      challengeToken = data.challenge_token;
      $("second-factor").hidden = false;
      say("Second factor needed.");
      return;
    }
    await signedIn(data, "with a password");
  });
});

$("second-factor-passkey").addEventListener("click", () => guarded(async () => {
  const options = await api("POST", "/v1/auth/2fa/passkey/options",
                            { challenge_token: challengeToken }, false);
  const credential = await navigator.credentials.get(
    { publicKey: requestOptions(options.public_key) });
  const pair = await api("POST", "/v1/auth/2fa/verify",
                         { challenge_token: challengeToken,
                           credential: credentialJSON(credential) }, false);
  await signedIn(pair, "with a password and a passkey");
}));

$("code-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const pair = await api("POST", "/v1/auth/2fa/verify",
                           { challenge_token: challengeToken, code: $("code").value }, false);
    await signedIn(pair, "with a password and a code");
  });
});

$("passkey-signin").addEventListener("click", () => guarded(async () => {
  const options = await api("POST", "/v1/auth/passkeys/login/options", undefined, false);
  const credential = await navigator.credentials.get(
    { publicKey: requestOptions(options.public_key) });
  const pair = await api("POST", "/v1/auth/passkeys/login",
                         { challenge_id: options.challenge_id,
                           credential: credentialJSON(credential) }, false);
  await signedIn(pair, "with a passkey");
}));

$("add-passkey").addEventListener("click", () => guarded(async () => {
  // a session signed in within 5 minutes needs no password; else ask for it
  let options;
  try {
    options = await api("POST", "/v1/auth/passkeys/register/options", {});
  } catch (error) {
    if (error.reason !== "auth.reauth.required") throw error;
    const password = window.prompt("Your password, to add a passkey:");
    if (!password) return;
    options = await api("POST", "/v1/auth/passkeys/register/options", { password });
  }
  const credential = await navigator.credentials.create(
    { publicKey: creationOptions(options.public_key) });
  const result = await api("POST", "/v1/auth/passkeys/register",
                           { credential: credentialJSON(credential) });
  if (result.tokens) {
    await signedIn(result.tokens, "again (two-factor authentication is now on)");
  } else {
    await listPasskeys();
  }
  say("Passkey added: " + result.passkey.name + ".");
}));

$("sign-out").addEventListener("click", () => guarded(async () => {
  await api("POST", "/v1/auth/logout", {});
  tokens = null;
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
  document.body.dataset.token = "none";
  say("Signed out.");
}));
