// Keyboard shortcuts for voters, and the random-prompt button.
// A key fires the visible, enabled element whose data-shortcut matches it,
// unless the voter is typing (Esc leaves a text box; Ctrl+Enter sends a prompt).
document.addEventListener("keydown", (event) => {
  const typing = event.target.matches("input, textarea, select, [contenteditable]");
  if (typing) {
    if (event.key === "Escape") event.target.blur();
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.form) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = document.querySelector(`[data-shortcut="${CSS.escape(event.key.toLowerCase())}"]`);
  if (target && !target.disabled && !target.closest("fieldset:disabled")) {
    event.preventDefault();
    target.click();
  }
});

document.addEventListener("click", (event) => {
  if (event.target.id !== "sample-prompt") return;
  const prompts = JSON.parse(document.getElementById("sample-prompts").textContent);
  const box = document.getElementById("prompt");
  box.value = prompts[Math.floor(Math.random() * prompts.length)];
  box.focus();
});
