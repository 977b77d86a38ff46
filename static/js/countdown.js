// Counts down to <time data-countdown datetime="…"> (a rate-limit pause). htmx cannot tick a
// clock by itself; the server sends the new panel when the run resumes.
function tick() {
  for (const el of document.querySelectorAll("time[data-countdown]")) {
    const left = Math.max(0, Math.round((Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000));
    el.textContent = left >= 60 ? `${Math.floor(left / 60)} min ${left % 60} s` : `${left} s`;
  }
}
setInterval(tick, 1000);
document.addEventListener("htmx:afterSwap", tick);
document.addEventListener("DOMContentLoaded", tick);
