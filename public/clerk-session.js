// Clerk mode, on signed-in pages: start Clerk's frontend so it keeps refreshing the short-lived
// __session cookie our server verifies. It shows nothing; sign-in itself is /login's job.
(function () {
  "use strict";
  var started = Date.now();
  (function waitForClerk() {
    if (window.Clerk) {
      window.Clerk.load().catch(function () {});
      return;
    }
    if (Date.now() - started < 15000) setTimeout(waitForClerk, 50);
  })();
})();
