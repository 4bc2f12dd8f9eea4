// The staff console's only script (no inline scripts: the CSP forbids them).
// htmx sends the CSRF token from <body hx-headers>; this adds it to htmx requests made before that
// attribute is read, fills the reply box from a canned reply, keeps transcripts scrolled to the
// newest turn, sends the browser to the login page when the session has ended, and turns a selection
// of words in the trainer's inbox into the procedure mention's offsets.
(function () {
  "use strict";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function scrollTranscripts() {
    document.querySelectorAll('[data-scroll="bottom"]').forEach(function (el) {
      el.scrollTop = el.scrollHeight;
    });
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrf();
  });

  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    }
  });

  document.addEventListener("htmx:oobAfterSwap", scrollTranscripts);

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("select[data-canned-for]")) {
      return;
    }
    var box = document.getElementById(select.getAttribute("data-canned-for"));
    if (box && select.value) {
      box.value = select.value;
      box.focus();
    }
  });

  // The trainer's inbox: selecting words of a text fills the row's start/end fields (code-point offsets,
  // as Python counts them) with the procedure mention.
  function codePoints(text) {
    return Array.from(text).length;
  }

  document.addEventListener("mouseup", function () {
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) {
      return;
    }
    var range = selection.getRangeAt(0);
    var holder = range.commonAncestorContainer;
    if (holder.nodeType === Node.TEXT_NODE) {
      holder = holder.parentNode;
    }
    if (!holder || !holder.matches || !holder.matches("[data-select-text]")) {
      return;
    }
    var text = holder.textContent;
    var before = document.createRange();
    before.selectNodeContents(holder);
    before.setEnd(range.startContainer, range.startOffset);
    var startUnits = before.toString().length;
    var endUnits = startUnits + range.toString().length;
    var row = holder.getAttribute("data-row");
    var start = document.getElementById("start-" + row);
    var end = document.getElementById("end-" + row);
    var shown = document.getElementById("sel-" + row);
    if (!start || !end) {
      return;
    }
    start.value = codePoints(text.slice(0, startUnits));
    end.value = codePoints(text.slice(0, endUnits));
    if (shown) {
      shown.textContent = text.slice(startUnits, endUnits);
    }
    var details = start.closest("details");
    if (details) {
      details.open = true;
    }
  });

  document.addEventListener("DOMContentLoaded", scrollTranscripts);
})();
