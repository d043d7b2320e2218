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

// After a failed save (a case, a decision, a follow-up event) the error summary takes the focus,
// so a screen reader reads it first and the keyboard starts at its links to the fields.
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector("#form-problems, #decision-problems, #follow-up-problems");
  if (!summary) return;
  summary.tabIndex = -1;
  summary.focus();
});

// A table wider than the screen scrolls inside its wrapper: a keyboard can reach that wrapper
// and a screen reader names it after its table (the details' summary, its caption or the heading).
const nameOf = (wrap) => {
  const summary = wrap.closest("details")?.querySelector("summary");
  if (summary) return summary.textContent;
  const caption = wrap.querySelector("caption");
  if (caption) return caption.textContent;
  const node = wrap.closest("section, .card, .study, .option") || wrap.parentElement;
  const heading = node?.querySelector("h1, h2, h3, h4");
  return heading ? heading.textContent : document.title;
};
const markScrolling = () => {
  document.querySelectorAll(".table-wrap").forEach((wrap) => {
    if (wrap.scrollWidth > wrap.clientWidth) {
      wrap.tabIndex = 0;
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", nameOf(wrap).trim().replace(/\s+/g, " "));
    } else if (wrap.getAttribute("role") === "region") {
      wrap.removeAttribute("tabindex");
      wrap.removeAttribute("role");
      wrap.removeAttribute("aria-label");
    }
  });
};
document.addEventListener("DOMContentLoaded", markScrolling);
document.addEventListener("htmx:afterSettle", markScrolling);
window.addEventListener("resize", markScrolling);
