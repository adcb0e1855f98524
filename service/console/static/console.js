// The operations console's only script: live progress bars. Every bar still waiting for
// changes (data-live) is followed through one Server-Sent Events stream for the whole page
// (/console/live), which the server drives from each operation's own event stream; nothing
// polls. The server computes every figure (service/console/present.py); this only draws.
(function () {
  "use strict";

  function setText(root, selector, text) {
    root.querySelectorAll(selector).forEach(function (node) {
      node.textContent = text;
    });
  }

  function draw(root, progress) {
    setText(root, '[data-field="percent"]', progress.percent + "%");
    root.querySelectorAll('[data-field="status"]').forEach(function (badge) {
      badge.textContent = progress.status;
      badge.className = "badge status-" + progress.status.toLowerCase();
    });
    var bar = root.querySelector('[role="progressbar"]');
    if (bar) {
      bar.setAttribute("aria-valuenow", String(progress.percent));
      bar.setAttribute("aria-valuetext", progress.label);
    }
    progress.segments.forEach(function (segment) {
      var rect = root.querySelector('[data-segment="' + segment.status + '"]');
      if (rect) {
        rect.setAttribute("x", segment.x + "%");
        rect.setAttribute("width", segment.width + "%");
      }
      setText(root, '[data-count="' + segment.status + '"]', String(segment.count));
      var item = root.querySelector('[data-legend="' + segment.status + '"]');
      if (item) {
        item.hidden = segment.count === 0;
      }
    });
  }

  function barsOf(id) {
    return document.querySelectorAll('[data-progress="' + CSS.escape(id) + '"]');
  }

  function follow() {
    var live = document.querySelectorAll("[data-progress][data-live]");
    var ids = [];
    live.forEach(function (node) {
      var id = node.getAttribute("data-progress");
      if (ids.indexOf(id) < 0) {
        ids.push(id);
      }
    });
    if (ids.length === 0 || !window.EventSource) {
      return;
    }
    var source = new EventSource("/console/live?operations=" + encodeURIComponent(ids.join(",")));
    source.addEventListener("progress", function (event) {
      var progress = JSON.parse(event.data);
      barsOf(progress.id).forEach(function (root) {
        draw(root, progress);
      });
    });
    source.addEventListener("finished", function (event) {
      var id = JSON.parse(event.data).id;
      barsOf(id).forEach(function (root) {
        root.removeAttribute("data-live");
        root.setAttribute("data-finished", "");
        root.querySelectorAll('[data-field="live"]').forEach(function (flag) {
          flag.hidden = true;
        });
      });
    });
    source.addEventListener("end", function () {
      source.close();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", follow);
  } else {
    follow();
  }
})();
