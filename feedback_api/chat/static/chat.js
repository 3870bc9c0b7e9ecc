// Cầu Nối web chat. Talks only to this site: POST /chat/api/messages {message, payload?}
// returns the assistant's messages [{text?, buttons?: [{title, payload}], custom?, image?}].
// Every piece of text goes into the page as a text node (never innerHTML): nothing the bot or
// the citizen writes can become markup. The conversation is kept in sessionStorage so that
// coming back from a read-more page shows it again.
// Officials' replies: GET /chat/api/replies?after=<id> on load and every few seconds while the
// page is visible (none while hidden, slower after failures); the id of the last one shown is
// kept in localStorage, so a reload or a later visit shows only the new ones.
(function () {
  "use strict";

  var STORE = "caunoi-chat-v1";
  var SEEN = "caunoi-replies-seen-v1"; // localStorage: the id of the last official reply shown
  var REPLY_PAGE = 20; // replies per answer (chat/replies.py PAGE): a full page means more wait
  var MAX_BACKOFF = 300; // seconds between two asks after failures
  var KEEP = 200; // entries kept in sessionStorage
  var URL_PATTERN = /(https?:\/\/[^\s<>"']+|\/van-ban\/[^\s<>"']+)/g;
  var TRAILING = /[.,;:!?)\]}»"']+$/;
  var TEXT = {
    empty: "Xin lỗi, tôi chưa có câu trả lời cho tin nhắn này. Bạn thử hỏi lại theo cách khác nhé.",
    offline: "Không kết nối được máy chủ. Bạn kiểm tra kết nối mạng rồi gửi lại nhé.",
    failed: "Có lỗi khi gửi tin nhắn. Bạn vui lòng thử lại sau ít phút.",
    tooLong: "Tin nhắn quá dài (tối đa {n} ký tự).",
    sure: "Đọc toàn văn:",
    unsure: "Có thể liên quan:",
    typing: "Trợ lý đang soạn câu trả lời",
    article: "Điều {a} {l}",
    reply: "Trả lời của cơ quan về ý kiến {code}",
    replyNoCode: "Trả lời của cơ quan"
  };

  var log, input, form, sendButton, notice, suggestions, maxLength;
  var history = [];
  var waiting = false;
  var pollSeconds = 15, pollTimer = null, polling = false, failures = 0, notBefore = 0;
  var shownReply = 0; // the highest reply id this tab has shown
  var polls = 0; // finished asks (body[data-replies-checked], for tests)

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // Text with its links made clickable: http(s) addresses and this site's /van-ban/ pages.
  function linkified(text) {
    var fragment = document.createDocumentFragment();
    var last = 0;
    String(text).replace(URL_PATTERN, function (match, _url, offset) {
      var url = match.replace(TRAILING, "");
      if (offset > last) fragment.appendChild(document.createTextNode(text.slice(last, offset)));
      var label = url;
      try {
        label = decodeURI(url); // "/van-ban/Luật Cư trú 2020/20" reads better than %-escapes
      } catch (e) { /* malformed escapes: show as is */ }
      var link = el("a", null, label);
      link.href = url;
      if (url.charAt(0) !== "/") {
        link.target = "_blank";
        link.rel = "noopener noreferrer";
      }
      fragment.appendChild(link);
      last = offset + url.length;
      return match;
    });
    if (last < text.length) fragment.appendChild(document.createTextNode(text.slice(last)));
    return fragment;
  }

  function articleHref(citation) {
    return "/van-ban/" + encodeURIComponent(String(citation.law_id)) + "/" +
      encodeURIComponent(String(citation.article_id));
  }

  function citationChips(custom) {
    var list = (custom.citations || []).filter(function (c) {
      return c && typeof c === "object" && c.law_id && c.article_id;
    });
    if (!list.length) return null;
    var box = el("div", "citation-box");
    box.appendChild(el("div", "citations-label", custom.confident === false ? TEXT.unsure : TEXT.sure));
    var chips = el("div", custom.confident === false ? "citations unsure" : "citations");
    list.slice(0, 5).forEach(function (c) {
      var label = c.title || TEXT.article.replace("{a}", c.article_id).replace("{l}", c.law_id);
      var chip = el("a", "citation", label);
      chip.href = articleHref(c);
      chip.dataset.lawId = String(c.law_id);
      chip.dataset.articleId = String(c.article_id);
      if (typeof c.score === "number") chip.title = label;
      chips.appendChild(chip);
    });
    box.appendChild(chips);
    return box;
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function addUser(text) {
    var row = el("div", "msg user");
    var bubble = el("div", "bubble text");
    bubble.appendChild(document.createTextNode(text));
    row.appendChild(bubble);
    log.appendChild(row);
    scrollDown();
  }

  // One message from the assistant; ``live`` buttons can still be clicked.
  function addBot(message, live) {
    var row = el("div", "msg bot");
    if (typeof message.text === "string" && message.text) {
      var bubble = el("div", "bubble text");
      bubble.appendChild(linkified(message.text));
      row.appendChild(bubble);
    }
    if (typeof message.image === "string" && /^(https?:\/\/|\/(?!\/))/.test(message.image)) {
      var image = el("img");
      image.src = message.image;
      image.alt = "";
      row.appendChild(image);
    }
    if (Array.isArray(message.buttons) && message.buttons.length) {
      var group = el("div", "buttons");
      message.buttons.forEach(function (b) {
        var button = el("button", null, b.title);
        button.type = "button";
        button.dataset.payload = b.payload;
        button.disabled = !live;
        button.addEventListener("click", function () {
          if (waiting) return;
          Array.prototype.forEach.call(group.querySelectorAll("button"), function (x) {
            x.disabled = true;
          });
          button.classList.add("chosen");
          send(b.title, b.payload);
        });
        group.appendChild(button);
      });
      row.appendChild(group);
    }
    var custom = message.custom;
    if (custom && typeof custom === "object" && custom.type === "answer") {
      var chips = citationChips(custom);
      if (chips) row.appendChild(chips);
    }
    if (row.childNodes.length) {
      log.appendChild(row);
      scrollDown();
    }
  }

  function replyTime(iso) {
    var date = new Date(String(iso || ""));
    return isNaN(date.getTime()) ? "" : date.toLocaleString("vi-VN", {
      day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  // An official's reply: its own look, a label with the tracking code and time, the text as text.
  function addReply(reply) {
    var row = el("div", "msg bot reply");
    var code = typeof reply.tracking_code === "string" ? reply.tracking_code : "";
    var label = code ? TEXT.reply.replace("{code}", code) : TEXT.replyNoCode;
    var when = replyTime(reply.created_at);
    row.appendChild(el("div", "reply-label", when ? label + " · " + when : label));
    row.appendChild(el("div", "bubble text")).appendChild(linkified(String(reply.text)));
    log.appendChild(row);
    scrollDown();
  }

  function lastSeen() { // 0 when storage is blocked: this tab's own count still avoids repeats
    try { return parseInt(localStorage.getItem(SEEN) || "0", 10) || 0; } catch (e) { return 0; }
  }

  function markSeen(id) {
    shownReply = Math.max(shownReply, id);
    try {
      if (id > lastSeen()) localStorage.setItem(SEEN, String(id));
    } catch (e) { /* private mode or full */ }
  }

  function showReply(reply) {
    if (!reply || typeof reply.id !== "number" || reply.id <= shownReply || !reply.text) return;
    var kept = { id: reply.id, tracking_code: reply.tracking_code, text: reply.text,
                 created_at: reply.created_at };
    addReply(kept);
    remember({ role: "reply", reply: kept });
    markSeen(reply.id);
  }

  // The next ask in ``seconds``; none while the page is hidden (visibilitychange resumes).
  function schedule(seconds) {
    clearTimeout(pollTimer);
    notBefore = Date.now() + seconds * 1000;
    pollTimer = document.visibilityState === "hidden" ? null : setTimeout(poll, seconds * 1000);
  }

  function backoff(retryAfter) {
    failures += 1;
    return Math.max(Math.min(pollSeconds * Math.pow(2, failures), MAX_BACKOFF), retryAfter || 0);
  }

  function poll() {
    clearTimeout(pollTimer);
    pollTimer = null;
    if (polling) return;
    polling = true;
    var next = pollSeconds;
    fetch("/chat/api/replies?after=" + encodeURIComponent(String(shownReply)), {
      headers: { "Accept": "application/json" },
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (response) {
      if (!response.ok) {
        next = backoff(parseInt(response.headers.get("Retry-After") || "", 10));
        return;
      }
      return response.json().then(function (data) {
        failures = 0;
        if (!Array.isArray(data)) return;
        data.forEach(showReply);
        if (data.length >= REPLY_PAGE) next = 1; // more are waiting
      });
    }).catch(function () {
      next = backoff(0);
    }).then(function () {
      polling = false;
      polls += 1;
      document.body.dataset.repliesChecked = String(polls);
      schedule(next);
    });
  }

  function onVisibility() { // hidden: no timer; visible again: the ask that was due, or now
    clearTimeout(pollTimer);
    pollTimer = null;
    if (document.visibilityState !== "hidden" && !polling) {
      schedule(Math.max(0, (notBefore - Date.now()) / 1000));
    }
  }

  function showTyping() {
    var row = el("div", "msg bot typing");
    row.id = "typing";
    var bubble = el("div", "bubble");
    bubble.setAttribute("role", "status");
    bubble.setAttribute("aria-label", TEXT.typing);
    for (var i = 0; i < 3; i++) bubble.appendChild(el("span", "dot"));
    row.appendChild(bubble);
    log.appendChild(row);
    scrollDown();
  }

  function hideTyping() {
    var row = document.getElementById("typing");
    if (row) row.parentNode.removeChild(row);
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function remember(entry) {
    history.push(entry);
    if (history.length > KEEP) history = history.slice(-KEEP);
    try {
      sessionStorage.setItem(STORE, JSON.stringify(history));
    } catch (e) { /* private mode or full: the chat still works */ }
  }

  function restore() {
    var saved;
    try {
      saved = JSON.parse(sessionStorage.getItem(STORE) || "[]");
    } catch (e) {
      saved = [];
    }
    if (!Array.isArray(saved) || !saved.length) return;
    history = saved.slice(-KEEP);
    suggestions.hidden = true;
    var live = history.length - 1; // the last message of the conversation keeps live buttons
    while (live > 0 && history[live].role === "reply") live--;
    history.forEach(function (entry, i) {
      if (entry.role === "user") addUser(String(entry.text || ""));
      else if (entry.role === "bot" && entry.message) addBot(entry.message, i === live);
      else if (entry.role === "reply" && entry.reply && typeof entry.reply.text === "string") {
        addReply(entry.reply);
        if (typeof entry.reply.id === "number") shownReply = Math.max(shownReply, entry.reply.id);
      }
    });
  }

  function setWaiting(on) {
    waiting = on;
    sendButton.disabled = on;
    if (on) showTyping();
    else hideTyping();
  }

  function errorText(body) {
    return body && typeof body.detail === "string" ? body.detail : TEXT.failed;
  }

  // A message that did not go through can be sent again without retyping it.
  function giveBack(text, payload) {
    if (!payload && !input.value) {
      input.value = text;
      grow();
    }
  }

  function send(text, payload) {
    text = String(text || "").trim();
    if (!text || waiting) return;
    if (text.length > maxLength) {
      showNotice(TEXT.tooLong.replace("{n}", maxLength));
      return;
    }
    showNotice("");
    suggestions.hidden = true;
    addUser(text);
    remember({ role: "user", text: text });
    setWaiting(true);
    var body = { message: text };
    if (payload) body.payload = payload;
    fetch("/chat/api/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        setWaiting(false);
        if (!response.ok || !Array.isArray(data)) {
          showNotice(errorText(data));
          giveBack(text, payload);
          return;
        }
        if (!data.length) data = [{ text: TEXT.empty }];
        data.forEach(function (message) {
          addBot(message, true);
          remember({ role: "bot", message: message });
        });
      });
    }, function () {
      setWaiting(false);
      showNotice(TEXT.offline);
      giveBack(text, payload);
    }).then(function () {
      input.focus();
    });
  }

  function grow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 140) + "px";
  }

  function start() {
    log = document.getElementById("log");
    input = document.getElementById("input");
    form = document.getElementById("composer");
    sendButton = document.getElementById("send");
    notice = document.getElementById("notice");
    suggestions = document.getElementById("suggestions");
    maxLength = parseInt(document.getElementById("chat").dataset.maxLength, 10) || 2000;
    pollSeconds = parseFloat(document.getElementById("chat").dataset.pollSeconds) || 15;
    shownReply = lastSeen();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (waiting) return;
      var text = input.value;
      if (!text.trim()) return;
      input.value = "";
      grow();
      send(text);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
      }
    });
    input.addEventListener("input", grow);
    Array.prototype.forEach.call(suggestions.querySelectorAll(".suggestion"), function (button) {
      button.addEventListener("click", function () { send(button.textContent); });
    });
    restore();
    document.addEventListener("visibilitychange", onVisibility);
    poll();
    document.body.dataset.ready = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
