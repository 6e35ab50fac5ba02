// Warns before the session ends for inactivity and offers to keep it alive. The server sends the
// seconds left in <meta name="plh-session-idle-seconds">; the warning shows two minutes before.
(() => {
  const meta = document.querySelector('meta[name="plh-session-idle-seconds"]');
  const dialog = document.getElementById("session-warning");
  if (!meta || !dialog) return;
  const WARN_BEFORE_MS = 120_000;
  const countdown = dialog.querySelector("[data-countdown]");
  const stay = dialog.querySelector("[data-stay]");
  let deadline = 0;
  let warnTimer = 0;
  let tick = 0;

  function schedule(seconds) {
    deadline = Date.now() + seconds * 1000;
    clearTimeout(warnTimer);
    clearInterval(tick);
    dialog.hidden = true;
    warnTimer = setTimeout(warn, Math.max(0, deadline - Date.now() - WARN_BEFORE_MS));
  }

  function warn() {
    dialog.hidden = false;
    stay.focus();
    const update = () => {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      countdown.textContent = `Time left: ${Math.floor(left / 60)} min ${left % 60} s.`;
      if (left === 0) {
        clearInterval(tick);
        window.location.assign("/login");
      }
    };
    update();
    tick = setInterval(update, 1000);
  }

  stay.addEventListener("click", async () => {
    stay.disabled = true;
    try {
      const res = await fetch("/session/extend", { method: "POST", credentials: "same-origin", headers: { accept: "application/json" } });
      if (!res.ok) throw new Error(String(res.status));
      schedule((await res.json()).idleSeconds);
    } catch {
      window.location.assign("/login");
    } finally {
      stay.disabled = false;
    }
  });

  schedule(Number(meta.getAttribute("content")) || 0);
})();
