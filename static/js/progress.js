// Sizes the sync card's progress bar from its data-percent. The width used to be an inline
// style attribute, which the Content-Security-Policy (style-src 'self') refuses; setting it
// from a script through the DOM is allowed. Runs on load and after every htmx swap (SSE).
function sizeProgressBars() {
  for (const bar of document.querySelectorAll(".progress .bar[data-percent]")) {
    const percent = Math.min(100, Math.max(0, Number(bar.dataset.percent) || 0));
    bar.style.width = `${percent}%`;
  }
}
document.addEventListener("htmx:afterSwap", sizeProgressBars);
document.addEventListener("DOMContentLoaded", sizeProgressBars);
