// Campaign annotation: rank with drag-and-drop or the keyboard (tie groups), pairwise quick buttons.
// Each .rank-widget keeps tiers of screen slots (0 = "A"), best first, in its hidden input as JSON.
// The same widget ranks a K-wise arena battle: its vote form carries data-rank-form.
(() => {
  const rankForm = () => document.querySelector("#judgment-form, form[data-rank-form]");
  const widgets = new Map();
  let active = null;

  function setup(el) {
    if (widgets.has(el)) return;
    const state = { el, k: Number(el.dataset.k), ties: el.dataset.ties === "true", tiers: [] };
    widgets.set(el, state);
    el.addEventListener("click", (e) => { activate(state); const chip = e.target.closest(".chip"); if (chip) place(state, Number(chip.dataset.slot), e.shiftKey); });
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
      render(state);
    });
    render(state);
  }

  function activate(state) {
    active = state;
    widgets.forEach((s) => s.el.classList.toggle("active", s === state));
  }

  function remove(state, slot) { state.tiers = state.tiers.map((t) => t.filter((s) => s !== slot)); }
  function compact(state) { state.tiers = state.tiers.filter((t) => t.length); }

  function place(state, slot, tie) {
    if (slot >= state.k) return;
    remove(state, slot);
    compact(state);
    if (tie && state.ties && state.tiers.length) state.tiers[state.tiers.length - 1].push(slot);
    else state.tiers.push([slot]);
    state.lastPlaced = slot;
    render(state);
  }

  function setRanking(state, tiers) { state.tiers = tiers.map((t) => [...t]); render(state); }

  function letter(slot) { return String.fromCharCode(65 + slot); }

  function render(state) {
    const placed = new Set(state.tiers.flat());
    const list = state.el.querySelector(".tiers");
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
        li.appendChild(chip);
      });
      list.appendChild(li);
    });
    state.el.querySelectorAll(".pool .chip").forEach((chip) => { chip.hidden = placed.has(Number(chip.dataset.slot)); });
    const complete = placed.size === state.k;
    state.el.querySelector("input[type=hidden]").value = complete ? JSON.stringify(state.tiers) : "";
    state.el.classList.toggle("complete", complete);
    state.el.dataset.ranking = JSON.stringify(state.tiers);
  }

  function init(root) {
    root.querySelectorAll(".rank-widget").forEach(setup);
    const first = document.querySelector(".rank-widget");
    if (first && (!active || !document.contains(active.el))) activate(widgets.get(first));
    for (const el of [...widgets.keys()]) if (!document.contains(el)) widgets.delete(el);
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("[data-set-ranking]");
    if (!button) return;
    const widget = document.querySelector(".rank-widget[data-input=ranking]");
    if (widget) setRanking(widgets.get(widget), JSON.parse(button.dataset.setRanking));
  });

  document.addEventListener("keydown", (e) => {
    if (!rankForm()) return;
    if (e.target.matches("input:not([type=radio]):not([type=checkbox]), textarea, select, [contenteditable]")) return;
    if (e.ctrlKey || e.metaKey || e.altKey || !active) return;
    if (active.el.closest("fieldset:disabled")) return; // an arena battle still streaming its answers
    const key = e.key.toLowerCase();
    if (key.length === 1 && key >= "a" && key <= "h") {
      const slot = key.charCodeAt(0) - 97;
      if (slot < active.k) { e.preventDefault(); place(active, slot, e.shiftKey); }
    } else if (e.key === "Backspace") {
      e.preventDefault();
      const last = active.tiers.length ? active.tiers[active.tiers.length - 1] : null;
      if (last) { last.pop(); compact(active); render(active); }
    } else if (key === "n") {
      e.preventDefault();
      const all = [...document.querySelectorAll(".rank-widget")];
      const next = all[(all.indexOf(active.el) + 1) % all.length];
      activate(widgets.get(next));
      next.focus();
    } else if (e.key === "Enter" && !e.target.matches("button")) {
      e.preventDefault();
      rankForm().requestSubmit();
    }
  });

  if (window.htmx) htmx.onLoad(init); else document.addEventListener("DOMContentLoaded", () => htmx.onLoad(init));
})();
