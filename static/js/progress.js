// The live Page screen (templates/pages/page_detail.html, `#live`). Every Server-Sent Event is
// the whole live part again (pages/panel.py), morphed into the screen by htmx's idiomorph
// extension (static/js/vendor/idiomorph-ext.min.js): what stays keeps its node, so the
// progress bar slides instead of restarting, and a focused button keeps its focus. This file
// makes the morph keep what belongs to the reader, and keeps live updates from misleading:
//
// - an open "Technical details", a typed token and a button disabled while its request is in
//   flight are never undone by a live update;
// - events older than what is on the screen (a replayed event after a page load) are dropped;
// - a control that appeared less than a second ago ignores clicks: a double-click on "Sync
//   from Facebook" must not land on the "Cancel" that replaced it under the pointer;
// - only a short status line is announced to screen readers: when the state changes, and at
//   most every 15 s while it stays the same (never the whole card several times a second);
//   a change of state also clears the notice a press left (#sync-notice).
// Loaded on every screen (templates/base.html); it does nothing where there is no `#live`.
(function () {
  "use strict";

  const FRESH_CONTROL_MS = 1000;
  const ANNOUNCE_EVERY_MS = 15000;
  const CONTROLS = "button, a[href], input, select, textarea, summary";

  // Requests in flight, by the element that sent them (a card's form).
  const inFlight = new Set();
  // Controls already on the screen, and when the newer ones appeared.
  const known = new WeakSet();
  const appearedAt = new WeakMap();

  function keepReaderState(attribute, element) {
    if (attribute === "open" && element instanceof HTMLDetailsElement) return false;
    const typed =
      element instanceof HTMLTextAreaElement ||
      (element instanceof HTMLInputElement && element.type !== "hidden");
    if (attribute === "value" && typed) return false;
    // htmx disables a pressed button with both attributes, and re-enables it only if it
    // still finds its own mark: a morph must take neither away while the request is out.
    const disabling = attribute === "disabled" || attribute === "data-disabled-by-htmx";
    if (disabling && inFlight.has(element.closest("form"))) return false;
    return true;
  }

  function configureMorph() {
    if (window.Idiomorph) {
      Idiomorph.defaults.callbacks.beforeAttributeUpdated = keepReaderState;
    }
  }

  function remember(node, fresh) {
    if (!(node instanceof Element)) return;
    const controls = node.matches(CONTROLS) ? [node] : [];
    controls.push(...node.querySelectorAll(CONTROLS));
    const now = performance.now();
    for (const control of controls) {
      if (known.has(control)) continue; // moved by the morph, not new
      known.add(control);
      if (fresh) appearedAt.set(control, now);
    }
  }

  function isFresh(control) {
    const at = appearedAt.get(control);
    return at !== undefined && performance.now() - at < FRESH_CONTROL_MS;
  }

  function refuseFreshClicks(event) {
    const control = event.target instanceof Element ? event.target.closest(CONTROLS) : null;
    if (control && isFresh(control)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }

  function dropOlderEvents(event) {
    const shown = document.querySelector("#live [data-version]");
    const incoming = /data-version="(\d+)"/.exec(event.detail.data || "");
    if (shown && incoming && Number(incoming[1]) < Number(shown.dataset.version)) {
      event.preventDefault();
    }
  }

  // What a screen reader would read: the text without the decorative icons.
  function spoken(element) {
    const copy = element.cloneNode(true);
    for (const hidden of copy.querySelectorAll("[aria-hidden='true']")) hidden.remove();
    return copy.textContent.replace(/\s+/g, " ").trim();
  }

  let announced = null;

  function announce() {
    const card = document.getElementById("sync-card");
    const title = document.getElementById("sync-title");
    const status = document.getElementById("sync-status");
    const announcer = document.getElementById("sync-announcer");
    if (!card || !title || !status || !announcer) return;
    const now = performance.now();
    const state = card.dataset.state;
    const text = `${spoken(title)}. ${spoken(status)}`;
    if (announced === null) {
      // The state at load is on the screen already: nothing to announce yet.
      announced = { state, text, at: now };
      return;
    }
    const stateChanged = state !== announced.state;
    const due = text !== announced.text && now - announced.at >= ANNOUNCE_EVERY_MS;
    if (stateChanged) {
      // A refusal ("already running") is about the state it answered: it is over now.
      const notice = document.getElementById("sync-notice");
      if (notice) notice.textContent = "";
    }
    if (stateChanged || due) {
      announcer.textContent = text;
      announced = { state, text, at: now };
    }
  }

  document.addEventListener("click", refuseFreshClicks, true);
  document.addEventListener("htmx:sseBeforeMessage", dropOlderEvents);
  document.addEventListener("htmx:beforeRequest", (event) => inFlight.add(event.detail.elt));
  document.addEventListener("htmx:afterRequest", (event) => inFlight.delete(event.detail.elt));
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.target.id === "live") announce();
  });
  document.addEventListener("DOMContentLoaded", () => {
    configureMorph();
    const live = document.getElementById("live");
    if (!live) return;
    remember(live, false);
    new MutationObserver((mutations) => {
      for (const mutation of mutations) {
        for (const node of mutation.addedNodes) remember(node, true);
      }
    }).observe(live, { childList: true, subtree: true });
    announce();
  });
})();
