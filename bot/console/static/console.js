// The staff console's only script (no inline scripts: the CSP forbids them).
// htmx sends the CSRF token from <body hx-headers>; this adds it to htmx requests made before that
// attribute is read, fills the reply box from a canned reply, keeps transcripts scrolled to the
// newest turn and sends the browser to the login page when the session has ended.
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

  document.addEventListener("DOMContentLoaded", scrollTranscripts);
})();
