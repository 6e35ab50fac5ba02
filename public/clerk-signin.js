// Drives Clerk's sign-in on /login when AUTH_PROVIDER=clerk (views/auth/clerk-signin.tsx).
// Loaded with the page's nonce after Clerk's own script (both deferred, so in order). No eval, no
// inline code. The server decides the mode (data-mode on #clerk-signin):
//   signin  – mount Clerk's sign-in form; if Clerk already holds a session the server did not
//             accept (usually a token that expired while no page refreshed it), go back once;
//   ended   – our session ended: end the Clerk session too, then show the form;
//   refused – signed in with Clerk but not let in: offer "sign out" (and account security).
(function () {
  "use strict";
  var root = document.getElementById("clerk-signin");
  if (!root) return;
  var mode = root.getAttribute("data-mode") || "signin";
  var afterSignInUrl = root.getAttribute("data-after-sign-in-url") || "/app";
  var statusEl = document.getElementById("clerk-status");
  var errorEl = document.getElementById("clerk-error");
  var RETRY_KEY = "plh-clerk-retry-at";
  var WAIT_MS = 15000;

  function say(text) {
    if (statusEl) statusEl.textContent = text;
  }

  function fail(text) {
    if (statusEl) statusEl.textContent = "";
    if (!errorEl) return;
    // The container is role="alert" and already in the page, so adding content is announced.
    var p = document.createElement("p");
    p.className = "alert alert-error";
    p.textContent = text;
    errorEl.replaceChildren(p);
  }

  function waitForClerk() {
    return new Promise(function (resolve, reject) {
      var started = Date.now();
      (function check() {
        if (window.Clerk) return resolve(window.Clerk);
        if (Date.now() - started > WAIT_MS) return reject(new Error("Clerk did not load"));
        setTimeout(check, 50);
      })();
    });
  }

  function enable(id, onClick) {
    var button = document.getElementById(id);
    if (!button) return;
    button.disabled = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      Promise.resolve(onClick()).catch(function () {
        button.disabled = false;
        fail("That did not work. Check your connection and try again.");
      });
    });
  }

  function recentlyRetried() {
    try {
      var at = Number(window.sessionStorage.getItem(RETRY_KEY) || "0");
      return Date.now() - at < 30000;
    } catch (e) {
      return true; // no storage: never risk a redirect loop
    }
  }

  function markRetry() {
    try {
      window.sessionStorage.setItem(RETRY_KEY, String(Date.now()));
    } catch (e) {
      /* ignore */
    }
  }

  async function start() {
    var Clerk = await waitForClerk();
    await Clerk.load();

    if (mode === "refused") {
      say("");
      enable("clerk-sign-out", function () {
        return Clerk.signOut({ redirectUrl: "/login" });
      });
      enable("clerk-manage-account", function () {
        Clerk.openUserProfile();
      });
      return;
    }

    if (mode === "ended" && Clerk.session) {
      say("Signing you out…");
      await Clerk.signOut();
    } else if (Clerk.session) {
      // Clerk has a session but the server saw no valid token: Clerk.load() has just refreshed it.
      if (!recentlyRetried()) {
        markRetry();
        say("Signing you in…");
        window.location.replace(afterSignInUrl);
        return;
      }
      say("");
      fail("We could not confirm your sign-in. Sign out, then sign in again.");
      var out = document.createElement("button");
      out.type = "button";
      out.id = "clerk-sign-out";
      out.className = "button";
      out.textContent = "Sign out";
      root.appendChild(out);
      enable("clerk-sign-out", function () {
        return Clerk.signOut({ redirectUrl: "/login" });
      });
      return;
    }

    say("");
    // forceRedirectUrl is clerk-js 5's name for the older afterSignInUrl.
    Clerk.mountSignIn(root, { forceRedirectUrl: afterSignInUrl });
  }

  start().catch(function () {
    fail("The sign-in form could not load. Check your internet connection, then reload this page. If it keeps happening, contact your practice administrator.");
  });
})();
