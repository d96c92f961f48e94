// Client switcher: type-ahead over the clients this user may see.
// "/" focuses it; arrows move; Enter opens; Escape closes. Switching keeps the
// page you are on (users, audit…) and is a plain link to /t/<slug>/….
(function () {
  "use strict";
  var box = document.querySelector(".switcher");
  if (!box) return;
  var input = box.querySelector("input"), list = box.querySelector("ul");
  var items = [], active = -1, timer = null, seq = 0, shownFor = null, openFirst = false;

  function target(slug) {
    var path = box.dataset.path || "/", current = box.dataset.current;
    var m = current && path.match(/^\/t\/[^/]+(\/.*)?$/);
    // The same page of the other client; a page about one object (an alert,
    // an endpoint) becomes its list, since the object belongs to this client.
    var page = m && m[1] && m[1].match(/^\/(users|audit|alerts|silences|policy|endpoints|enrollment|channels|sla|branding|domains|sso|settings|apikeys)(\/|$)/);
    var rest = page ? "/" + page[1] : "/";
    return "/t/" + encodeURIComponent(slug) + rest;
  }
  function render() {
    list.innerHTML = "";
    if (!items.length) {
      var li = document.createElement("li");
      li.className = "empty"; li.textContent = "No matching clients";
      list.appendChild(li);
    }
    items.forEach(function (t, i) {
      var li = document.createElement("li");
      li.id = "switcher-opt-" + i; li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      var name = document.createElement("span"); name.textContent = t.name;
      var slug = document.createElement("span"); slug.className = "slug"; slug.textContent = t.slug + (t.status !== "active" ? " · " + t.status : "");
      li.appendChild(name); li.appendChild(slug);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); location.href = target(t.slug); });
      list.appendChild(li);
    });
    list.hidden = false; input.setAttribute("aria-expanded", "true");
    if (active >= 0) input.setAttribute("aria-activedescendant", "switcher-opt-" + active);
    else input.removeAttribute("aria-activedescendant");
  }
  function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; }
  function search() {
    var mine = ++seq, q = input.value.trim();
    fetch("/switcher?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (data) {
        if (mine !== seq) return;
        items = data || []; active = items.length ? 0 : -1; shownFor = q; render();
        // Enter pressed before these results arrived: act on them now.
        if (openFirst) { openFirst = false; if (items[0]) location.href = target(items[0].slug); }
      })
      .catch(function () {});
  }
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 120); });
  input.addEventListener("focus", search);
  input.addEventListener("blur", function () { setTimeout(close, 100); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!items.length) return;
      active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      render();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (shownFor !== input.value.trim()) {
        // The list on screen belongs to an older query: search now, then open.
        clearTimeout(timer); openFirst = true; search();
      } else if (active >= 0 && items[active]) {
        location.href = target(items[active].slug);
      }
    } else if (e.key === "Escape") {
      close(); input.blur();
    }
  });
  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    if (e.key === "/" && tag !== "input" && tag !== "textarea" && tag !== "select" && !e.target.isContentEditable) {
      e.preventDefault(); input.focus(); input.select();
    }
  });
})();

// "Select all" checkboxes for bulk actions.
document.querySelectorAll("[data-select-all]").forEach(function (all) {
  all.addEventListener("change", function () {
    all.closest("form").querySelectorAll('input[name="ids"]').forEach(function (c) { c.checked = all.checked; });
  });
});

// Buttons that change a lot ask first: <form data-confirm="Really?">.
document.querySelectorAll("form[data-confirm]").forEach(function (f) {
  f.addEventListener("submit", function (e) { if (!window.confirm(f.dataset.confirm)) e.preventDefault(); });
});

// Notification channels (issue 13): the create form shows only the chosen
// kind's fields. Without scripts every kind's fieldset shows, labelled, and
// the server reads only the chosen kind's.
document.querySelectorAll("[data-channel-form]").forEach(function (form) {
  var kind = form.querySelector("[data-channel-kind]");
  if (!kind) return;
  function show() {
    form.querySelectorAll("fieldset[data-kind]").forEach(function (fs) { fs.hidden = fs.dataset.kind !== kind.value; });
  }
  kind.addEventListener("change", show);
  show();
});
