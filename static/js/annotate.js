// Campaign annotation: rank with drag-and-drop or the keyboard (tie groups), pairwise keys, checks before
// a submit, a toast with undo, and announcements for screen readers (#announce, an ARIA live region).
// Each .rank-widget keeps tiers of screen slots (0 = "A"), best first, in its hidden input as JSON.
(() => {
  const widgets = new Map();
  let active = null;
  let toastTimer = null;

  const letter = (slot) => String.fromCharCode(65 + slot);
  const ordinal = (n) => `${n}${["th", "st", "nd", "rd"][(n % 100 > 10 && n % 100 < 14) || n % 10 > 3 ? 0 : n % 10]}`;

  function announce(text) {
    const region = document.getElementById("announce");
    if (!region) return;
    region.textContent = "";
    setTimeout(() => { region.textContent = text; }, 30);  // a fresh node text is read even when it repeats
  }

  function setup(el) {
    if (widgets.has(el)) return;
    const state = { el, k: Number(el.dataset.k), ties: el.dataset.ties === "true", tiers: [] };
    widgets.set(el, state);
    el.addEventListener("click", (e) => {
      activate(state);
      const chip = e.target.closest(".chip");
      if (chip) place(state, Number(chip.dataset.slot), e.shiftKey);
    });
    el.addEventListener("dragstart", (e) => { const chip = e.target.closest(".chip"); if (chip) e.dataTransfer.setData("text/plain", chip.dataset.slot); });
    el.addEventListener("dragover", (e) => { if (e.target.closest("[data-zone]")) e.preventDefault(); });
    el.addEventListener("drop", (e) => {
      const zone = e.target.closest("[data-zone]");
      if (!zone) return;
      e.preventDefault();
      activate(state);
      const slot = Number(e.dataTransfer.getData("text/plain"));
      remove(state, slot);
      if (zone.dataset.zone === "tier") {
        const index = Number(zone.dataset.tier);
        if (state.ties && state.tiers[index]) state.tiers[index].push(slot); else state.tiers.push([slot]);
      } else if (zone.dataset.zone === "new") state.tiers.push([slot]);
      compact(state);
      autoPlaceLast(state);
      render(state);
      say(state, slot);
    });
    render(state);
  }

  function activate(state) {
    active = state;
    widgets.forEach((s) => s.el.classList.toggle("active", s === state));
  }

  function remove(state, slot) { state.tiers = state.tiers.map((t) => t.filter((s) => s !== slot)); }
  function compact(state) { state.tiers = state.tiers.filter((t) => t.length); }
  function unplaced(state) {
    const placed = new Set(state.tiers.flat());
    return [...Array(state.k).keys()].filter((s) => !placed.has(s));
  }

  // One response left: it can only go last, so it goes there.
  function autoPlaceLast(state) {
    const left = unplaced(state);
    if (left.length === 1 && state.tiers.length) { state.tiers.push([left[0]]); return left[0]; }
    return null;
  }

  function place(state, slot, tie) {
    if (slot >= state.k) return;
    remove(state, slot);
    compact(state);
    if (tie && state.ties && state.tiers.length) state.tiers[state.tiers.length - 1].push(slot);
    else state.tiers.push([slot]);
    const auto = autoPlaceLast(state);
    render(state);
    state.el.focus({ preventScroll: true });  // keyboard focus stays on the chip list
    say(state, slot, auto);
  }

  function describe(state) {
    return state.tiers.map((t) => t.map(letter).join(" tied with ")).join(", then ");
  }

  function say(state, slot, auto = null) {
    const place = state.tiers.findIndex((t) => t.includes(slot)) + 1;
    let text = `Response ${letter(slot)} placed ${ordinal(place)}.`;
    if (auto !== null) text += ` Response ${letter(auto)} placed last.`;
    if (!unplaced(state).length) text += ` ${state.el.dataset.what} complete: ${describe(state)}.`;
    announce(text);
  }

  function setRanking(state, tiers) {
    state.tiers = tiers.map((t) => [...t]);
    render(state);
    announce(`${state.el.dataset.what}: ${describe(state)}.`);
  }

  function render(state) {
    const placed = new Set(state.tiers.flat());
    const list = state.el.querySelector(".tiers");
    const poolChip = (slot) => state.el.querySelector(`.pool .chip[data-slot="${slot}"]`);
    list.innerHTML = "";
    state.tiers.forEach((tier, i) => {
      const li = document.createElement("li");
      li.className = "tier";
      li.dataset.zone = "tier";
      li.dataset.tier = i;
      tier.forEach((slot) => {
        const chip = document.createElement("button");
        chip.type = "button"; chip.className = "chip placed"; chip.draggable = true; chip.dataset.slot = slot;
        chip.textContent = letter(slot);
        const name = poolChip(slot)?.getAttribute("aria-label") || `Response ${letter(slot)}`;
        chip.setAttribute("aria-label", `${name} (placed ${ordinal(i + 1)})`);
        chip.title = poolChip(slot)?.title || "";
        li.appendChild(chip);
      });
      list.appendChild(li);
    });
    state.el.querySelectorAll(".pool .chip").forEach((chip) => { chip.hidden = placed.has(Number(chip.dataset.slot)); });
    const complete = placed.size === state.k;
    state.el.querySelector("input[type=hidden]").value = complete ? JSON.stringify(state.tiers) : "";
    state.el.classList.toggle("complete", complete);
    state.el.dataset.ranking = JSON.stringify(state.tiers);
    // "How much better?" needs one response alone in first place: a disabled fieldset is not sent.
    const tie = complete && state.tiers[0].length > 1;
    document.querySelectorAll(`fieldset[data-required=unless-tie]`).forEach((fs) => {
      if ((fs.dataset.ranking || "ranking") === state.el.dataset.input) fs.disabled = tie;
    });
    clearError(state.el);
  }

  // --- answers given earlier (undo, revise) ----------------------------------

  function restore(root) {
    const data = root.querySelector("#restore-answer");
    if (!data) return;
    const values = JSON.parse(data.textContent);
    const form = root.querySelector("#judgment-form");
    for (const [name, value] of Object.entries(values)) {
      const widget = form.querySelector(`.rank-widget[data-input="${CSS.escape(name)}"]`);
      if (widget) { const state = widgets.get(widget); state.tiers = JSON.parse(value); render(state); continue; }
      const wanted = Array.isArray(value) ? value : [value];
      form.querySelectorAll(`[name="${CSS.escape(name)}"]`).forEach((input) => {
        if (input.type === "radio" || input.type === "checkbox") input.checked = wanted.includes(input.value) || (input.value === "on" && value === "on");
        else input.value = value;
      });
    }
    data.remove();
  }

  // --- checks before a submit: every problem next to its field, all at once ----

  function clearError(field) {
    const next = field.nextElementSibling;
    if (next && next.classList.contains("field-error")) next.remove();
    field.removeAttribute("aria-invalid");
  }

  function showError(field, text) {
    clearError(field);
    const p = document.createElement("p");
    p.className = "field-error";
    p.textContent = text;
    field.after(p);
    field.setAttribute("aria-invalid", "true");
    return p;
  }

  function letters(list) { return list.map((s) => `Response ${letter(s)}`).join(", "); }

  function problems(form) {
    const found = [];
    form.querySelectorAll(".rank-widget").forEach((el) => {
      const state = widgets.get(el);
      const left = unplaced(state);
      if (left.length === state.k) found.push([el, `${el.dataset.what}: rank the responses, best first (click them, drag them, or press their letters).`]);
      else if (left.length) found.push([el, `${el.dataset.what}: ${letters(left)} ${left.length === 1 ? "is" : "are"} not placed yet.`]);
    });
    form.querySelectorAll("[data-required]").forEach((el) => {
      if (el.disabled) return;
      const rule = el.dataset.required;
      if (rule === "every-row") {
        const missing = [...el.querySelectorAll(".rating-row")].filter((row) => !row.querySelector("input:checked")).map((row) => row.dataset.letter);
        if (missing.length) found.push([el, `${el.dataset.what}: rate Response ${missing.join(", ")} too.`]);
      } else if (rule === "one" || rule === "unless-tie") {
        if (rule === "unless-tie") {
          const widget = form.querySelector(`.rank-widget[data-input="${el.dataset.ranking || "ranking"}"]`);
          if (widget && unplaced(widgets.get(widget)).length) return;  // its ranking's own message comes first
        }
        if (!el.querySelector("input:checked")) found.push([el, `Say ${el.dataset.what}.`]);
      } else if (rule === "text") {
        const box = el.querySelector("textarea");
        const length = box.value.trim().length;
        const min = Number(el.dataset.minLength || 1);
        if (length < min) found.push([el, length ? `Say ${el.dataset.what} in at least ${min} characters (${length} so far).` : `Say ${el.dataset.what}: this campaign asks for it.`]);
      }
    });
    return found;
  }

  function check(form) {
    form.querySelectorAll(".field-error").forEach((p) => p.remove());
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    const found = problems(form);
    if (!found.length) return true;
    const shown = found.map(([field, text]) => showError(field, text));
    shown[0].scrollIntoView({ block: "center" });
    announce(`${found.length === 1 ? "One thing" : `${found.length} things`} to fix before submitting: ${found.map(([, t]) => t).join(" ")}`);
    return false;
  }

  // --- toast with undo ------------------------------------------------------------

  function toast(html, seconds) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.innerHTML = html;
    box.hidden = false;
    if (window.htmx) htmx.process(box);
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; box.innerHTML = ""; }, Math.max(seconds, 4) * 1000);
  }

  document.body.addEventListener("campaign-done", (e) => {
    const box = document.getElementById("toast");
    const what = e.detail.action === "skipped" ? "Skipped" : "Submitted";
    const undo = box && box.dataset.undoUrl;
    toast(`${what}. <button type="button" class="link" id="toast-undo" hx-post="${undo}" hx-target="#work" hx-swap="innerHTML">Undo</button>`, e.detail.undo_seconds);
    announce(`${what}. Press U within ${e.detail.undo_seconds} seconds to undo.`);
  });

  document.body.addEventListener("campaign-undone", (e) => {
    const text = e.detail.action === "skip"
      ? "Undone: the skip is taken back; the item is yours again."
      : "Undone: the item is back with the answers you gave; change them and submit again.";
    toast(text, 8);
    announce(text);
  });

  document.body.addEventListener("htmx:beforeRequest", (e) => {
    if (e.detail.elt.id === "judgment-form" && !check(e.detail.elt)) e.preventDefault();
  });

  document.body.addEventListener("htmx:afterSwap", (e) => {
    const target = e.detail.target;
    if (target.id === "item-error" || target.id === "skip-error" || (target.id === "toast" && target.textContent.trim())) {
      if (target.id === "toast") { target.hidden = false; }
      target.scrollIntoView({ block: "center" });
      announce(target.textContent.trim());
    } else if (target.id === "work") {
      const prompt = target.querySelector(".prompt");
      if (prompt) prompt.scrollIntoView({ block: "start" });  // the next item starts at its prompt
    }
  });

  // --- keyboard ---------------------------------------------------------------------

  function init(root) {
    root.querySelectorAll(".rank-widget").forEach(setup);
    const first = document.querySelector(".rank-widget");
    if (first && (!active || !document.contains(active.el))) activate(widgets.get(first));
    for (const el of [...widgets.keys()]) if (!document.contains(el)) widgets.delete(el);
    restore(root);
  }

  function overall() {
    const widget = document.querySelector(".rank-widget[data-input=ranking]");
    return widget && widgets.get(widget);
  }

  function bothBad() {
    const box = document.querySelector("input[name=none_acceptable]");
    if (!box) return;
    box.checked = true;
    const state = overall();
    if (state && state.ties) setRanking(state, [[0, 1]]);
    announce("Both are bad: marked as none acceptable, and tied.");
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("[data-set-ranking]");
    if (button) {
      const state = overall();
      if (state) { activate(state); setRanking(state, JSON.parse(button.dataset.setRanking)); }
      return;
    }
    if (e.target.closest("[data-both-bad]")) bothBad();
  });

  document.addEventListener("keydown", (e) => {
    if (e.target.id === "skip-reason" && e.key === "Enter") {
      e.preventDefault();
      e.target.form.requestSubmit();
      return;
    }
    if (e.target.matches("input:not([type=radio]):not([type=checkbox]), textarea, select, [contenteditable]")) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key === "u" && document.querySelector("#undo-last, #toast-undo, #queue-done button")) {
      e.preventDefault();
      (document.querySelector("#toast-undo") || document.querySelector("#undo-last, #queue-done button")).click();
      return;
    }
    if (!active || !document.contains(active.el)) return;
    if (key === "s" && document.getElementById("skip-reason")) {
      e.preventDefault();
      document.getElementById("skip-reason").focus();
      announce("Skip: choose a reason, then press Enter.");
    } else if (active.k === 2 && !e.shiftKey && (key === "a" || key === "b")) {
      e.preventDefault();
      setRanking(active, key === "a" ? [[0], [1]] : [[1], [0]]);
    } else if (active.k === 2 && key === "t" && active.ties) {
      e.preventDefault();
      setRanking(active, [[0, 1]]);
    } else if (active.k === 2 && key === "x") {
      e.preventDefault();
      bothBad();
    } else if (key.length === 1 && key >= "a" && key <= "h") {
      const slot = key.charCodeAt(0) - 97;
      if (slot < active.k) { e.preventDefault(); place(active, slot, e.shiftKey); }
    } else if (e.key === "Backspace") {
      e.preventDefault();
      const last = active.tiers.length ? active.tiers[active.tiers.length - 1] : null;
      if (last) { const slot = last.pop(); compact(active); render(active); announce(`Response ${letter(slot)} taken back.`); }
    } else if (key === "n") {
      e.preventDefault();
      const all = [...document.querySelectorAll(".rank-widget")];
      const next = all[(all.indexOf(active.el) + 1) % all.length];
      activate(widgets.get(next));
      next.focus();
      announce(`${next.dataset.what}.`);
    } else if (e.key === "Enter" && !e.target.matches("button, a")) {
      e.preventDefault();
      (active.el.closest("form") || document.querySelector("#judgment-form")).requestSubmit();
    }
  });

  if (window.htmx) htmx.onLoad(init); else document.addEventListener("DOMContentLoaded", () => htmx.onLoad(init));
})();
