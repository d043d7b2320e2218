// The decision form says when a reason is needed: as soon as a ticked option lies outside the
// first tier of the assessment (the server checks the same and keeps every entry on an error).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("decision-form");
  if (!form) return;
  const reason = form.querySelector("textarea[name=override_reason]");
  const hint = document.getElementById("override-reason-needed");
  const update = () => {
    const departs = [...form.querySelectorAll("input[name=chosen_options]:checked")]
      .some((box) => !box.hasAttribute("data-first-tier"));
    reason.required = departs;
    if (hint) hint.hidden = !departs;
  };
  form.addEventListener("change", update);
  update();
});
