// Direct uploads (views/jobs/uploads.tsx panels): the file goes from this browser straight to blob
// storage through a short-lived, write-only URL; the app never sees its bytes.
//   1. SHA-256 of the file, computed here (the server checks the stored blob against it);
//   2. POST /jobs/:id/files → { uploadUrl, contentType, completeUrl, singlePutMaxBytes, blockBytes };
//   3. PUT to storage: one Put Blob for small files, else Put Block… + Put Block List, with progress;
//   4. POST completeUrl through htmx, which swaps in the panel saying "Verified" or why not.
// Cancel stops the transfer; Retry starts again with a fresh URL. Event delegation on document, so
// panels swapped in by htmx keep working. No inline handlers: the CSP forbids them.
(() => {
  const uploads = new WeakMap(); // panel → { controller }
  const BLOCK_TRIES = 3;

  const q = (panel, selector) => panel.querySelector(selector);

  function say(panel, kind, text) {
    const notice = q(panel, "[data-upload-notice]");
    if (!notice) return;
    notice.className = `upload-notice alert alert-${kind}`;
    notice.setAttribute("role", kind === "error" ? "alert" : "status");
    const p = document.createElement("p");
    p.textContent = text;
    notice.replaceChildren(p);
  }

  let lastAnnounced = -1;
  function progress(panel, fraction) {
    const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
    const bar = q(panel, "[data-upload-progress] progress");
    bar.value = pct;
    bar.setAttribute("aria-valuenow", String(pct));
    bar.setAttribute("aria-valuetext", `${pct}% uploaded`);
    q(panel, "[data-upload-percent]").textContent = `${pct}%`;
    // Screen readers hear every quarter, not every tick.
    const quarter = Math.floor(pct / 25);
    if (quarter !== lastAnnounced && pct < 100) {
      lastAnnounced = quarter;
      say(panel, "info", `Uploading… ${pct}%`);
    }
  }

  function mode(panel, state) {
    const busy = state === "busy";
    q(panel, "[data-upload-start]").disabled = busy;
    q(panel, 'input[type="file"]').disabled = busy;
    q(panel, "[data-upload-cancel]").hidden = !busy;
    q(panel, "[data-upload-retry]").hidden = state !== "failed";
    if (busy) q(panel, "[data-upload-progress]").hidden = false;
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} bytes`;
    if (n < 1024 * 1024) return `${Math.round(n / 102.4) / 10} KB`;
    return `${Math.round(n / (1024 * 104.8576)) / 10} MB`;
  }

  async function sha256Hex(file) {
    const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function contentTypeOf(file, kind) {
    if (file.type) return file.type;
    const name = file.name.toLowerCase();
    if (kind === "recipients_csv" && name.endsWith(".csv")) return "text/csv";
    if (name.endsWith(".png")) return "image/png";
    if (name.endsWith(".jpg") || name.endsWith(".jpeg")) return "image/jpeg";
    return "application/octet-stream";
  }

  async function askForUrl(panel, file, type, sha256, signal) {
    const body = new URLSearchParams({ kind: panel.dataset.kind, name: file.name, size: String(file.size), type, sha256 });
    const res = await fetch(`/jobs/${encodeURIComponent(panel.dataset.jobId)}/files`, {
      method: "POST", credentials: "same-origin", signal, body,
      headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
    });
    const answer = await res.json().catch(() => null);
    if (!res.ok) throw new Error(answer?.message || `The upload could not start (HTTP ${res.status}).`);
    return answer;
  }

  /** One PUT to storage with upload progress; resolves on 201. */
  function put(url, body, headers, signal, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded);
      xhr.onload = () => (xhr.status === 201 ? resolve() : reject(new Error(`Storage refused the upload (HTTP ${xhr.status}).`)));
      xhr.onerror = () => reject(new Error("The connection to storage failed."));
      xhr.onabort = () => reject(new DOMException("cancelled", "AbortError"));
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
      xhr.send(body);
    });
  }

  async function sendToStorage(grant, file, signal, onProgress) {
    const version = new URL(grant.uploadUrl).searchParams.get("sv");
    const common = version ? { "x-ms-version": version } : {};
    if (file.size <= grant.singlePutMaxBytes) {
      await put(grant.uploadUrl, file, {
        ...common, "x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": grant.contentType, "content-type": grant.contentType,
      }, signal, (loaded) => onProgress(loaded));
      return;
    }
    // Large files: blocks of blockBytes (ids of equal length, as the service requires), each
    // retried a few times, then the block list that commits them with the content type.
    const ids = [];
    let sent = 0;
    for (let start = 0, i = 0; start < file.size; start += grant.blockBytes, i++) {
      const chunk = file.slice(start, Math.min(file.size, start + grant.blockBytes));
      const id = btoa(`block-${String(i).padStart(6, "0")}`);
      ids.push(id);
      for (let attempt = 1; ; attempt++) {
        try {
          await put(`${grant.uploadUrl}&comp=block&blockid=${encodeURIComponent(id)}`, chunk, common, signal, (loaded) => onProgress(sent + loaded));
          break;
        } catch (error) {
          if (signal.aborted || attempt >= BLOCK_TRIES) throw error;
          await new Promise((r) => setTimeout(r, 500 * attempt));
        }
      }
      sent += chunk.size;
      onProgress(sent);
    }
    const list = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`;
    await put(`${grant.uploadUrl}&comp=blocklist`, list, { ...common, "x-ms-blob-content-type": grant.contentType, "content-type": "application/xml" }, signal, () => {});
  }

  /** Asks the server to verify the upload; htmx swaps in the panel it answers with. */
  async function verify(panel, grant) {
    const id = panel.id;
    if (window.htmx) {
      await window.htmx.ajax("POST", grant.completeUrl, { source: panel, target: panel, swap: "outerHTML" });
    } else {
      const res = await fetch(grant.completeUrl, { method: "POST", credentials: "same-origin", headers: { "hx-request": "true" } });
      panel.outerHTML = await res.text();
    }
    const fresh = document.getElementById(id);
    const notice = fresh && q(fresh, "[data-upload-notice]");
    if (notice) {
      notice.tabIndex = -1;
      notice.focus();
    }
  }

  async function start(panel) {
    const input = q(panel, 'input[type="file"]');
    const file = input.files && input.files[0];
    if (!file) {
      say(panel, "error", "Choose a file first.");
      input.focus();
      return;
    }
    const max = Number(panel.dataset.maxBytes);
    if (max && file.size > max) {
      say(panel, "error", `This file is ${formatBytes(file.size)}; the limit is ${panel.dataset.maxLabel}.`);
      input.focus();
      return;
    }
    const controller = new AbortController();
    uploads.set(panel, { controller });
    lastAnnounced = -1;
    mode(panel, "busy");
    progress(panel, 0);
    q(panel, "[data-upload-cancel]").focus();
    try {
      say(panel, "info", "Preparing the file…");
      const type = contentTypeOf(file, panel.dataset.kind);
      const sha256 = await sha256Hex(file);
      const grant = await askForUrl(panel, file, type, sha256, controller.signal);
      await sendToStorage(grant, file, controller.signal, (loaded) => progress(panel, file.size ? loaded / file.size : 1));
      progress(panel, 1);
      q(panel, "[data-upload-cancel]").hidden = true;
      say(panel, "info", "Uploaded 100%. Checking the file…");
      await verify(panel, grant);
    } catch (error) {
      if (controller.signal.aborted) {
        say(panel, "info", "Upload cancelled. Choose a file and upload again when you are ready.");
        mode(panel, "idle");
        q(panel, "[data-upload-start]").focus();
      } else {
        say(panel, "error", `${error.message || "The upload failed."} Select Retry to try again.`);
        mode(panel, "failed");
        q(panel, "[data-upload-retry]").focus();
      }
    } finally {
      uploads.delete(panel);
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target instanceof Element ? event.target.closest("form[data-upload-form]") : null;
    if (!form) return;
    event.preventDefault();
    const panel = form.closest("[data-upload-panel]");
    if (panel && !uploads.has(panel)) start(panel);
  });

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const panel = target?.closest("[data-upload-panel]");
    if (!panel) return;
    if (target.closest("[data-upload-cancel]")) uploads.get(panel)?.controller.abort();
    else if (target.closest("[data-upload-retry]") && !uploads.has(panel)) start(panel);
  });
})();
