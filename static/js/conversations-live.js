// The conversation screens, live (templates/conversations/conversation_list.html and
// conversation_detail.html). The server's events (conversations/live.py) are small notices:
// {"page": 3, "conversations": [12, 15]} ("conversations": null for "many"). When one may
// change what this screen shows, the screen asks its own address again with `HX-Request`,
// which answers only the live part (the view checks access and renders it with the reader's
// filters and timezone), and morphs it in with idiomorph (static/js/vendor/): rows and
// messages keep their nodes, so a focused link keeps its focus and a moved row stays the same
// element.
//
// - One refresh at a time, at most every MIN_GAP_MS; changes during one give one more after
//   it. A hidden tab waits until it is shown again; a failed refresh is tried again after
//   RETRY_MS (events meanwhile wait for it).
// - Scroll: content added above what the reader looks at does not push it away; a reader at
//   the bottom of a thread stays at the bottom (the new message comes into view).
// - Screen readers hear only #live-status ("1 new message", "2 conversations updated"), at
//   most every ANNOUNCE_EVERY_MS, with what happened in between added up.
// - A stream that ends for good (access ended, session gone) says so on the status line.
(function () {
  "use strict";

  const MIN_GAP_MS = 250;
  const RETRY_MS = 5000;
  const CLEAR_AFTER_MS = 30000;
  const ANNOUNCE_EVERY_MS = 5000;
  const AT_BOTTOM_PX = 48;

  function plural(count, one, many) {
    return `${count} ${count === 1 ? one : many}`;
  }

  // What a refresh changed, in the words the status line uses.
  const KINDS = {
    list: {
      items: "tbody tr[id]",
      key: (row) => row.dataset.changed,
      words: (count) => `${plural(count, "conversation", "conversations")} updated`,
    },
    thread: {
      items: "li.msg[id]",
      key: () => "",
      words: (count) => plural(count, "new message", "new messages"),
    },
  };

  function snapshot(root, kind) {
    const seen = new Map();
    for (const item of root.querySelectorAll(kind.items)) seen.set(item.id, kind.key(item));
    return seen;
  }

  function changedIds(before, after) {
    const ids = [];
    for (const [id, key] of after) {
      if (!before.has(id) || before.get(id) !== key) ids.push(id);
    }
    return ids;
  }

  // A short highlight of what changed (static/css/app.css; none with reduced motion).
  function highlight(ids) {
    for (const id of ids) {
      const item = document.getElementById(id);
      if (!item) continue;
      item.classList.add("live-changed");
      item.addEventListener("animationend", () => item.classList.remove("live-changed"), {
        once: true,
      });
    }
  }

  // The first item at the top of the viewport, and where it is: a morph that adds content
  // above it must leave it where it was.
  function anchorOf(root, kind) {
    if (window.scrollY <= 0) return null; // at the top, new rows at the top are the news
    for (const item of root.querySelectorAll(kind.items)) {
      const box = item.getBoundingClientRect();
      if (box.bottom > 0) return { item, top: box.top };
    }
    return null;
  }

  function atBottom() {
    const root = document.documentElement;
    return window.innerHeight + window.scrollY >= root.scrollHeight - AT_BOTTOM_PX;
  }

  class Announcer {
    constructor(element, kind) {
      this.element = element;
      this.kind = kind;
      this.pending = 0;
      this.lastAt = -Infinity;
      this.timer = null;
      this.clearTimer = null;
    }

    add(count) {
      if (!count || !this.element) return;
      this.pending += count;
      if (this.timer) return;
      const wait = this.lastAt + ANNOUNCE_EVERY_MS - performance.now();
      this.timer = setTimeout(() => this.say(), Math.max(0, wait));
    }

    say() {
      this.timer = null;
      this.lastAt = performance.now();
      this.element.textContent = this.kind.words(this.pending);
      this.pending = 0;
      // News goes stale: the line empties itself (silently) after a while.
      clearTimeout(this.clearTimer);
      this.clearTimer = setTimeout(() => {
        this.element.textContent = "";
      }, CLEAR_AFTER_MS);
    }

    stop(text) {
      clearTimeout(this.timer);
      clearTimeout(this.clearTimer);
      this.timer = null;
      if (this.element) this.element.textContent = text;
    }
  }

  class LiveScreen {
    constructor(root) {
      this.root = root;
      this.kind = KINDS[root.dataset.liveWhat];
      this.page = root.dataset.livePage;
      this.conversation = Number(root.dataset.liveConversation || 0);
      this.announcer = new Announcer(document.getElementById("live-status"), this.kind);
      this.inFlight = false;
      this.again = false;
      this.lastStart = -Infinity;
      this.timer = null;
      this.stopped = false;
    }

    start() {
      this.source = new EventSource(this.root.dataset.liveEvents);
      let opened = false;
      this.source.addEventListener("open", () => {
        // A reconnection replays missed events, unless the server no longer has them: look.
        if (opened) this.refreshSoon();
        opened = true;
        this.root.dataset.liveState = "open";
      });
      this.source.addEventListener("changed", (event) => this.onChanged(event));
      this.source.addEventListener("stream-reset", () => this.refreshSoon());
      this.source.addEventListener("stream-error", () => {
        this.stop("Live updates stopped: reload the page to see new messages.");
      });
      document.addEventListener("visibilitychange", () => {
        if (!document.hidden && this.again) this.refreshSoon();
      });
      this.source.addEventListener("error", () => {
        // The browser retries a dropped stream by itself; a refused one (429) stays closed.
        if (this.source.readyState === EventSource.CLOSED && !this.stopped) {
          this.stop("Live updates stopped: reload the page to see new messages.");
        }
      });
      window.addEventListener("pagehide", () => this.source.close());
    }

    stop(text) {
      this.stopped = true;
      this.root.dataset.liveState = "stopped";
      this.source.close();
      clearTimeout(this.timer);
      this.announcer.stop(text);
    }

    concerns(notice) {
      if (this.page && String(notice.page) !== this.page) return false;
      if (!this.conversation || notice.conversations === null) return true;
      return notice.conversations.includes(this.conversation);
    }

    onChanged(event) {
      let notice;
      try {
        notice = JSON.parse(event.data);
      } catch (error) {
        return; // not ours to show
      }
      if (notice && this.concerns(notice)) this.refreshSoon();
    }

    refreshSoon() {
      this.again = true;
      if (this.inFlight || this.timer || this.stopped || document.hidden) return;
      const wait = this.lastStart + MIN_GAP_MS - performance.now();
      this.timer = setTimeout(() => {
        this.timer = null;
        this.refresh();
      }, Math.max(0, wait));
    }

    async refresh() {
      this.again = false;
      this.inFlight = true;
      this.lastStart = performance.now();
      try {
        const response = await fetch(window.location.href, {
          headers: { "HX-Request": "true" },
          credentials: "same-origin",
          cache: "no-store",
        });
        if (response.redirected || response.status === 403) {
          this.stop("Live updates stopped: log in again to see new messages.");
          return;
        }
        if (response.status === 404) {
          this.stop("This conversation is no longer stored.");
          return;
        }
        if (!response.ok) {
          this.retryLater(); // a passing failure (a restart): never a loop of requests
          return;
        }
        this.morph(await response.text());
      } catch (error) {
        this.retryLater(); // offline for a moment
      } finally {
        this.inFlight = false;
        if (this.again && !this.timer && !this.stopped) this.refreshSoon();
      }
    }

    retryLater() {
      this.again = true;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.refreshSoon();
      }, RETRY_MS);
    }

    morph(html) {
      if (!window.Idiomorph) return;
      const before = snapshot(this.root, this.kind);
      const anchor = anchorOf(this.root, this.kind);
      const pinned = this.kind === KINDS.thread && atBottom();
      Idiomorph.morph(this.root, html, { morphStyle: "innerHTML" });
      if (pinned) {
        window.scrollTo(0, document.documentElement.scrollHeight);
      } else if (anchor && anchor.item.isConnected) {
        // Browsers with scroll anchoring have kept it in place already (a shift of 0).
        const shift = anchor.item.getBoundingClientRect().top - anchor.top;
        if (Math.abs(shift) >= 1) window.scrollBy(0, shift);
      }
      const changed = changedIds(before, snapshot(this.root, this.kind));
      highlight(changed);
      this.announcer.add(changed.length);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.querySelector("[data-live-events]");
    if (root && window.EventSource && KINDS[root.dataset.liveWhat]) {
      new LiveScreen(root).start();
    }
  });
})();
