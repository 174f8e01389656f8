// Researcher forms: the campaign's address (slug) follows its name until edited by hand, and choosing a
// rubric template shows its spec (templates/annotation/rubric_form.html carries them as JSON).
(() => {
  const slugify = (text) => text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9\s-]/g, "").trim().replace(/[\s-]+/g, "-").slice(0, 100);

  function setup() {
    const name = document.getElementById("id_name");
    const slug = document.getElementById("id_slug");
    if (name && slug) {
      let edited = slug.value !== "" && slug.value !== slugify(name.value);
      slug.addEventListener("input", () => { edited = slug.value !== ""; });
      name.addEventListener("input", () => { if (!edited) slug.value = slugify(name.value); });
    }
    const template = document.getElementById("id_template");
    const specs = document.getElementById("template-specs");
    const preview = document.getElementById("template-spec-preview");
    if (template && specs && preview) {
      const all = JSON.parse(specs.textContent);
      const show = () => {
        const spec = all[template.value];
        preview.hidden = !spec;
        preview.querySelector("pre").textContent = spec ? JSON.stringify(spec, null, 2) : "";
      };
      template.addEventListener("change", show);
      show();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup); else setup();
})();
