// Times that change on their own, between two live updates of the Page screen:
// - <time data-countdown datetime="…">: a rate-limit pause counting down ("1 min 20 s");
// - <time data-ago datetime="…">: "just now", "5 minutes ago", "in 3 minutes", worded as the
//   server's `ago` filter words them (fbsync/templatetags/when.py), so a live update and this
//   clock never disagree;
// - <time data-stamp datetime="…">: "2026-11-28 17:40 WET", as the `stamp` filter writes it,
//   in the browser's timezone. A live update is rendered once for every viewer (in the
//   server's timezone); this puts it back in the reader's, within the same task, before it is
//   ever painted.
// htmx cannot tick a clock by itself; the server sends the new screen when the run resumes.
(function () {
  "use strict";

  const JUST_NOW_SECONDS = 60;
  // Django's timesince units (depth 1), largest first.
  const UNITS = [
    ["year", 365 * 24 * 3600],
    ["month", 30 * 24 * 3600],
    ["week", 7 * 24 * 3600],
    ["day", 24 * 3600],
    ["hour", 3600],
    ["minute", 60],
  ];

  function timeLeft(seconds) {
    if (seconds <= 0) return "a moment";
    return seconds >= 60 ? `${Math.floor(seconds / 60)} min ${seconds % 60} s` : `${seconds} s`;
  }

  function ago(seconds) {
    const size = Math.abs(seconds);
    if (size < JUST_NOW_SECONDS) return "just now";
    const [unit, length] = UNITS.find(([, unitLength]) => size >= unitLength);
    const count = Math.floor(size / length);
    // Django separates the number and its unit with a no-break space.
    const amount = `${count}\u00a0${unit}${count === 1 ? "" : "s"}`;
    return seconds > 0 ? `${amount} ago` : `in ${amount}`;
  }

  let stampFormat = null;
  try {
    stampFormat = new Intl.DateTimeFormat("en-GB", {
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
    });
  } catch (error) {
    // No Intl: the server's wording stays, labelled with the server's timezone.
  }

  function stamp(date) {
    const part = {};
    for (const { type, value } of stampFormat.formatToParts(date)) part[type] = value;
    return `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute} ${part.timeZoneName}`;
  }

  function secondsSince(el) {
    return Math.round((Date.now() - Date.parse(el.getAttribute("datetime"))) / 1000);
  }

  function tick() {
    for (const el of document.querySelectorAll("time[data-countdown]")) {
      const text = timeLeft(Math.max(0, -secondsSince(el)));
      if (el.textContent !== text) el.textContent = text;
    }
    if (stampFormat) {
      for (const el of document.querySelectorAll("time[data-stamp]")) {
        const date = new Date(el.getAttribute("datetime"));
        if (Number.isNaN(date.getTime())) continue;
        const text = stamp(date);
        if (el.textContent !== text) el.textContent = text;
      }
    }
    for (const el of document.querySelectorAll("time[data-ago]")) {
      const seconds = secondsSince(el);
      if (Number.isNaN(seconds)) continue;
      const text = ago(seconds);
      if (el.textContent !== text) el.textContent = text;
    }
  }

  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);
  document.addEventListener("DOMContentLoaded", tick);
})();
