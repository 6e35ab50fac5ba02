// The letter step's merge-field palette (views/jobs/letter-editor.tsx): each button inserts its
// {{field}} where the cursor is in the letter text, puts the cursor after it, and fires an input
// event so the live preview (htmx on the textarea) refreshes. Without this script the buttons stay
// hidden and the plain list of fields is shown instead (the has-script class switches them, in CSS).
// Event delegation on document, so a letter step swapped in by htmx keeps working. No inline
// handlers: the CSP forbids them.
(() => {
  document.documentElement.classList.add("has-script");

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-insert-field]") : null;
    if (!button) return;
    const textarea = document.getElementById(button.getAttribute("aria-controls") || "field-body");
    if (!(textarea instanceof HTMLTextAreaElement) || textarea.readOnly || textarea.disabled) return;
    const token = `{{${button.getAttribute("data-insert-field")}}}`;
    const start = textarea.selectionStart ?? textarea.value.length;
    const end = textarea.selectionEnd ?? start;
    if (textarea.maxLength > 0 && textarea.value.length - (end - start) + token.length > textarea.maxLength) return;
    textarea.focus();
    textarea.setRangeText(token, start, end, "end");
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
