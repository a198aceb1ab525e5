// Signing in and out: the approver's key is checked against the API, kept in this tab's
// sessionStorage only, and forgotten on sign-out.

import { api, useKey } from "./api.js";
import { $ } from "./dom.js";

// one sign-in serves every page of the tab (approvals, console)
const KEY_STORAGE = "agentry.ui.apiKey";

export class Session {
  /** onSignedIn(byForm) shows the inbox (byForm: the approver just signed in with the form);
   * onSignedOut() empties and hides it. */
  constructor({ onSignedIn, onSignedOut }) {
    this.onSignedIn = onSignedIn;
    this.onSignedOut = onSignedOut;
  }

  /** Wire the sign-in form and the sign-out button; resume the tab's saved key, if any. */
  start() {
    $("signin-form").addEventListener("submit", (event) => this.signIn(event));
    $("signout").addEventListener("click", () => this.signOut("Signed out."));
    const saved = sessionStorage.getItem(KEY_STORAGE);
    if (saved) {
      useKey(saved);
      this.showSignedIn(false);
    } else {
      this.showSignIn();
    }
  }

  signOut(message = "") {
    sessionStorage.removeItem(KEY_STORAGE);
    this.showSignIn(message);
  }

  async signIn(event) {
    event.preventDefault();
    const input = $("signin-key");
    const button = $("signin-submit");
    const error = $("signin-error");
    const key = input.value.trim();
    input.removeAttribute("aria-invalid");
    if (!key) {
      error.textContent = "Enter an API key.";
      input.setAttribute("aria-invalid", "true");
      return;
    }
    if (!/^[\x21-\x7e]+$/.test(key)) {
      error.textContent = "An API key has no spaces or special characters; paste it again.";
      input.setAttribute("aria-invalid", "true");
      return;
    }
    button.disabled = true;
    error.textContent = "";
    try {
      await api("/v1/agents", { key });
    } catch (exc) {
      error.textContent = `Sign-in failed: ${exc.detail}`;
      input.setAttribute("aria-invalid", "true");
      input.select();
      return;
    } finally {
      button.disabled = false;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    useKey(key);
    input.value = "";
    this.showSignedIn(true);
  }

  showSignIn(message = "") {
    useKey(null);
    this.onSignedOut();
    $("session-bar").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message;
    $("signin-key").focus();
  }

  showSignedIn(byForm) {
    $("signin").hidden = true;
    $("signin-error").textContent = "";
    $("session-bar").hidden = false;
    this.onSignedIn(byForm);
  }
}
