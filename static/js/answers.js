// Answers (templates/_answer.html): the show-source / show-formatted toggle, and KaTeX for the math
// spans of the formatted view (vendor/katex; a TeX error shows the TeX in red instead of failing).
(() => {
  function typeset(root) {
    if (!window.katex) return;
    root.querySelectorAll(".view-markdown .math:not([data-typeset])").forEach((el) => {
      el.dataset.typeset = "1";
      katex.render(el.textContent, el, {
        displayMode: el.tagName === "DIV", throwOnError: false, output: "htmlAndMathml",
      });
    });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".answer-toggle");
    if (!button) return;
    const box = button.closest(".answer-box");
    const plain = box.querySelector(".view-plain");
    const formatted = box.querySelector(".view-markdown");
    const toPlain = plain.hidden;
    plain.hidden = !toPlain;
    formatted.hidden = toPlain;
    const source = box.dataset.shown === "markdown" ? toPlain : !toPlain;  // showing the other view?
    button.setAttribute("aria-pressed", String(source));
    button.textContent = toPlain ? "Show formatted" : "Show source";
    button.setAttribute("aria-label", `${button.textContent}: ${box.dataset.label}`);
  });

  const start = () => { if (window.htmx) htmx.onLoad(typeset); else typeset(document); };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
