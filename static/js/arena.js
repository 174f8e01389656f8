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

// Guests' proof of work (ARENA_GUEST_POW_BITS): before the first battle the browser finds a nonce whose
// SHA-256 of "challenge:nonce" starts with the asked number of zero bits, then sends the form.
function zeroBits(bytes) {
  let bits = 0;
  for (const byte of bytes) {
    if (byte) return bits + Math.clz32(byte) - 24;
    bits += 8;
  }
  return bits;
}

async function solvePuzzle(challenge, bits) {
  const encoder = new TextEncoder();
  for (let nonce = 0; ; nonce++) {
    const digest = await crypto.subtle.digest("SHA-256", encoder.encode(`${challenge}:${nonce}`));
    if (zeroBits(new Uint8Array(digest)) >= bits) return String(nonce);
  }
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  const field = form.dataset.powChallenge && form.querySelector('input[name="pow_nonce"]');
  if (!field || field.value) return;
  event.preventDefault();
  const button = form.querySelector('button[type="submit"]');
  if (button) { button.disabled = true; button.textContent = "Checking your browser…"; }
  field.value = await solvePuzzle(form.dataset.powChallenge, Number(form.dataset.powBits));
  form.submit();
});
