/*
 * The web widget of the assistant.
 *
 * Embed with one tag (everything else is loaded from the same server):
 *   <script src="https://TRO-LY.EXAMPLE.GOV.VN/widget/widget.js" defer></script>
 * Optional attributes: data-title, data-open="true", data-storage="session"
 * (forget the conversation when the tab closes: for shared kiosks),
 * data-server (socket.io server, default: where widget.js came from),
 * data-socket-path (default "/socket.io/").
 *
 * Talks to Rasa's socketio channel (user_uttered / bot_uttered, session_persistence).
 * Every word shown comes from the server's wording catalogue: bot/channels/widget.py puts the
 * sentences in place of the empty object after the wording marker below.
 * No external fonts, CDNs or trackers. Messages are rendered as text nodes, never as HTML.
 */
(function () {
  "use strict";
  if (window.TroLyDVC && window.TroLyDVC.loaded) return;

  var script = document.currentScript || (function () {
    var all = document.querySelectorAll('script[src*="widget.js"]');
    return all[all.length - 1];
  })();
  var scriptUrl = new URL(script.getAttribute("src"), window.location.href);
  var data = script.dataset || {};
  // {key: sentence}; left empty when the file is not served by bot/channels/widget.py (then no text shows).
  var WORDING = /*@wording*/{};
  function t(key) { return Object.prototype.hasOwnProperty.call(WORDING, key) ? String(WORDING[key]) : ""; }
  var cfg = {
    base: scriptUrl.href.replace(/widget\.js(\?.*)?$/, ""),
    server: data.server || scriptUrl.origin,
    socketPath: data.socketPath || "/socket.io/",
    title: data.title || t("channel.widget.title"),
    open: data.open === "true",
    greeting: data.greeting || t("chat.greet"),
    historyHours: 24,
    maxHistory: 200,
    slowReplyMs: 30000
  };
  var store = (function () {
    try {
      var s = data.storage === "session" ? window.sessionStorage : window.localStorage;
      s.setItem("tldvc:probe", "1");
      s.removeItem("tldvc:probe");
      return s;
    } catch (e) {
      var mem = {};
      return {
        getItem: function (k) { return Object.prototype.hasOwnProperty.call(mem, k) ? mem[k] : null; },
        setItem: function (k, v) { mem[k] = String(v); },
        removeItem: function (k) { delete mem[k]; }
      };
    }
  })();
  var KEY_SESSION = "tldvc:session", KEY_TOKEN = "tldvc:session-token", KEY_HISTORY = "tldvc:history", KEY_OPEN = "tldvc:open";

  var socket = null, ready = false, pending = [], everConnected = false, slowTimer = null;
  var history = loadHistory();
  var ui = {};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    if (text) node.textContent = text;
    return node;
  }

  function chatIcon() {
    // Inline SVG rather than an emoji: kiosks and servers often lack an emoji font.
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
    svg.appendChild(path);
    return svg;
  }

  function loadHistory() {
    try {
      var saved = JSON.parse(store.getItem(KEY_HISTORY) || "null");
      if (saved && Date.now() - saved.savedAt < cfg.historyHours * 3600 * 1000 && Array.isArray(saved.items)) {
        return saved.items;
      }
    } catch (e) { /* corrupted: start afresh */ }
    return [];
  }

  function saveHistory() {
    history = history.slice(-cfg.maxHistory);
    try {
      store.setItem(KEY_HISTORY, JSON.stringify({ savedAt: Date.now(), items: history }));
    } catch (e) { /* storage full or blocked: the conversation still works */ }
  }

  function build() {
    var link = el("link", { rel: "stylesheet", href: cfg.base + "widget.css" });
    document.head.appendChild(link);

    var root = el("div", { className: "tldvc", id: "tldvc-root", lang: "vi" });
    ui.launcher = el("button", {
      type: "button", className: "tldvc-launcher", "aria-controls": "tldvc-panel", "aria-expanded": "false"
    }, t("channel.widget.open"));
    ui.launcher.insertBefore(chatIcon(), ui.launcher.firstChild);

    ui.panel = el("section", { className: "tldvc-panel", id: "tldvc-panel", role: "region",
      "aria-labelledby": "tldvc-title" });
    ui.panel.hidden = true;
    var header = el("header", { className: "tldvc-header" });
    header.appendChild(el("h2", { id: "tldvc-title", className: "tldvc-title" }, cfg.title));
    ui.reset = el("button", { type: "button", className: "tldvc-reset",
      title: t("channel.widget.new_chat_hint") }, t("channel.widget.new_chat"));
    ui.close = el("button", { type: "button", className: "tldvc-close",
      "aria-label": t("channel.widget.close") }, "×");
    header.appendChild(ui.reset);
    header.appendChild(ui.close);

    ui.status = el("p", { className: "tldvc-status", role: "status", "aria-live": "polite" });
    ui.log = el("ol", { className: "tldvc-log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
      "aria-label": t("channel.widget.log_label"), tabindex: "0" });
    ui.typing = el("p", { className: "tldvc-typing", "aria-live": "polite" });
    ui.typing.hidden = true;

    ui.form = el("form", { className: "tldvc-form" });
    var label = el("label", { "for": "tldvc-input", className: "tldvc-sr" }, t("channel.widget.input_label"));
    ui.input = el("textarea", { id: "tldvc-input", className: "tldvc-input", rows: "1", maxlength: "1000",
      placeholder: t("channel.widget.input_placeholder"), autocomplete: "off" });
    ui.send = el("button", { type: "submit", className: "tldvc-send" }, t("channel.widget.send"));
    ui.form.appendChild(label);
    ui.form.appendChild(ui.input);
    ui.form.appendChild(ui.send);
    var hint = el("p", { className: "tldvc-hint", id: "tldvc-hint" }, t("channel.widget.privacy_hint"));
    ui.input.setAttribute("aria-describedby", "tldvc-hint");

    ui.panel.appendChild(header);
    ui.panel.appendChild(ui.status);
    ui.panel.appendChild(ui.log);
    ui.panel.appendChild(ui.typing);
    ui.panel.appendChild(ui.form);
    ui.panel.appendChild(hint);
    root.appendChild(ui.panel);
    root.appendChild(ui.launcher);
    document.body.appendChild(root);

    ui.launcher.addEventListener("click", function () { toggle(ui.panel.hidden); });
    ui.close.addEventListener("click", function () { toggle(false); });
    ui.reset.addEventListener("click", resetConversation);
    root.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && !ui.panel.hidden) { toggle(false); }
    });
    ui.form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = ui.input.value.trim();
      if (!text) return;
      ui.input.value = "";
      sendUser(text, text);
    });
    ui.input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        ui.form.requestSubmit ? ui.form.requestSubmit() : ui.form.dispatchEvent(new Event("submit"));
      }
    });
  }

  function toggle(open) {
    ui.panel.hidden = !open;
    ui.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    store.setItem(KEY_OPEN, open ? "1" : "0");
    if (open) {
      connect();
      ui.input.focus();
      scrollDown();
    } else {
      ui.launcher.focus();
    }
  }

  function renderAll() {
    ui.log.textContent = "";
    if (!history.length && cfg.greeting) {
      renderMessage({ from: "bot", text: cfg.greeting, local: true }, false);
    }
    history.forEach(function (item, i) { renderMessage(item, i === history.length - 1); });
    scrollDown();
  }

  function appendText(parent, text) {
    // Links become <a>; everything else stays text (no HTML injection possible).
    var re = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]])/g, last = 0, m;
    while ((m = re.exec(text)) !== null) {
      parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = el("a", { href: m[1], target: "_blank", rel: "noopener noreferrer" }, m[1]);
      parent.appendChild(a);
      last = m.index + m[1].length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderMessage(item, withButtons) {
    var li = el("li", { className: "tldvc-msg tldvc-" + item.from });
    var who = item.from === "user" ? t("channel.widget.from_user") : t("channel.widget.from_bot");
    if (who) li.appendChild(el("span", { className: "tldvc-sr" }, who + " "));
    var bubble = el("div", { className: "tldvc-bubble" });
    appendText(bubble, item.text || "");
    (item.links || []).forEach(function (link) {
      var p = el("p", { className: "tldvc-link" });
      p.appendChild(el("a", { href: link.url, target: "_blank", rel: "noopener noreferrer" }, link.title));
      bubble.appendChild(p);
    });
    li.appendChild(bubble);
    if (withButtons && item.buttons && item.buttons.length) {
      var group = el("div", { className: "tldvc-replies", role: "group", "aria-label": t("channel.widget.replies_label") });
      item.buttons.forEach(function (b) {
        var btn = el("button", { type: "button", className: "tldvc-reply", "data-payload": b.payload }, b.title);
        btn.addEventListener("click", function () { sendUser(b.title, b.payload); });
        group.appendChild(btn);
      });
      li.appendChild(group);
    }
    ui.log.appendChild(li);
  }

  function clearButtons() {
    var groups = ui.log.querySelectorAll(".tldvc-replies");
    for (var i = 0; i < groups.length; i++) groups[i].parentNode.removeChild(groups[i]);
  }

  function scrollDown() { ui.log.scrollTop = ui.log.scrollHeight; }

  function setStatus(text) { ui.status.textContent = text || ""; }

  function setTyping(on) {
    ui.typing.hidden = !on;
    ui.typing.textContent = on ? t("channel.widget.typing") : "";
    ui.panel.classList.toggle("tldvc-busy", on);
    ui.panel.setAttribute("aria-busy", on ? "true" : "false");
    clearTimeout(slowTimer);
    if (on) {
      slowTimer = setTimeout(function () {
        setTyping(false);
        setStatus(t("channel.widget.slow"));
      }, cfg.slowReplyMs);
    }
  }

  function sendUser(shown, payload) {
    clearButtons();
    var item = { from: "user", text: shown };
    history.push(item);
    saveHistory();
    renderMessage(item, false);
    scrollDown();
    setTyping(true);
    ui.input.focus();
    if (ready) emitMessage(payload);
    else {
      pending.push(payload);
      if (everConnected) setStatus(t("channel.widget.queued"));
      connect();
    }
  }

  function emitMessage(payload) {
    socket.emit("user_uttered", { message: payload });
  }

  function onBotMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    setTyping(false);
    setStatus("");
    var raw = msg.quick_replies || msg.buttons || [];
    var buttons = raw.filter(function (b) { return b && b.title && !b.url; })
      .map(function (b) { return { title: String(b.title), payload: String(b.payload || b.title) }; });
    var links = (Array.isArray(msg.links) ? msg.links.slice() : [])
      .concat(raw.filter(function (b) { return b && b.title && b.url; }));
    var att = msg.attachment;
    if (att && att.payload && (att.payload.src || att.payload.url)) {
      links.push({ title: att.payload.title || t("channel.attachment_link"), url: att.payload.src || att.payload.url });
    }
    // Only web links: a "javascript:" URL from a misconfigured response must never become clickable.
    links = links.filter(function (l) { return l && typeof l.url === "string" && /^https?:\/\//i.test(l.url); })
      .map(function (l) { return { title: String(l.title || l.url), url: l.url }; });
    if (!msg.text && !buttons.length && !links.length) return;
    clearButtons();
    var item = { from: "bot", text: msg.text || "", buttons: buttons, links: links };
    history.push(item);
    saveHistory();
    renderMessage(item, true);
    scrollDown();
  }

  function connect() {
    if (socket) return;
    if (typeof window.io !== "function") {
      loadClient(connect);
      return;
    }
    setStatus(t("channel.widget.connecting"));
    socket = window.io(cfg.server, {
      path: cfg.socketPath,
      // Websocket only: HTTP long-polling needs every request of a connection to reach the same Rasa
      // replica, and the production balancer is sticky by nothing.
      transports: ["websocket"],
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10000
    });
    socket.on("connect", function () {
      // The server resumes a session only with the token it issued to this browser.
      socket.emit("session_request", {
        session_id: store.getItem(KEY_SESSION),
        session_token: store.getItem(KEY_TOKEN)
      });
    });
    socket.on("session_confirm", function (info) {
      var id = info && typeof info === "object" ? info.session_id : info;
      var token = info && typeof info === "object" ? info.session_token : null;
      if (id && id !== store.getItem(KEY_SESSION)) {
        // A new session (the old one expired or was not ours): the old history is not its history.
        if (store.getItem(KEY_SESSION)) clearHistory();
        store.setItem(KEY_SESSION, id);
      }
      if (token) store.setItem(KEY_TOKEN, token);
      var wasReconnect = everConnected;
      ready = true;
      everConnected = true;
      setStatus(wasReconnect ? t("channel.widget.reconnected") : "");
      var queue = pending;
      pending = [];
      queue.forEach(emitMessage);
    });
    socket.on("bot_uttered", onBotMessage);
    socket.on("disconnect", function () {
      ready = false;
      setStatus(t("channel.widget.reconnecting"));
    });
    socket.on("connect_error", function () {
      ready = false;
      setStatus(everConnected ? t("channel.widget.reconnecting") : t("channel.widget.cannot_connect"));
    });
  }

  var clientLoading = false, clientWaiters = [];
  function loadClient(done) {
    clientWaiters.push(done);
    if (clientLoading) return;
    clientLoading = true;
    var s = document.createElement("script");
    s.src = cfg.base + "socket.io.min.js";
    s.onload = function () { clientWaiters.splice(0).forEach(function (f) { f(); }); };
    s.onerror = function () {
      clientLoading = false;
      setStatus(t("channel.widget.client_missing"));
    };
    document.head.appendChild(s);
  }

  function clearHistory() {
    history = [];
    saveHistory();
    renderAll();
  }

  function resetConversation() {
    history = [];
    saveHistory();
    store.removeItem(KEY_SESSION);
    store.removeItem(KEY_TOKEN);
    if (socket) {
      socket.disconnect();
      socket = null;
      ready = false;
    }
    setTyping(false);
    renderAll();
    connect();
    ui.input.focus();
  }

  function start() {
    build();
    renderAll();
    var open = cfg.open || store.getItem(KEY_OPEN) === "1";
    if (open) toggle(true);
  }

  window.TroLyDVC = {
    loaded: true,
    open: function () { toggle(true); },
    close: function () { toggle(false); },
    send: function (text) { toggle(true); sendUser(text, text); },
    reset: function () { resetConversation(); }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
