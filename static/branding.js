// Branding page: a live preview of the client's portal. Colours, name,
// contacts and chosen files update a mock header and card as they are
// edited (CSS custom properties on #brand-preview), and the WCAG AA
// contrast warnings are recomputed with the same formula as the server.
(function () {
  "use strict";
  var form = document.getElementById("brand-form"), preview = document.getElementById("brand-preview");
  if (!form || !preview) return;
  var defaults = { name: form.dataset.defaultName, primary: form.dataset.defaultPrimary, accent: form.dataset.defaultAccent };
  var warnings = document.getElementById("brand-warnings");
  var hex = /^#[0-9a-f]{6}$/;
  var objectURLs = {};

  function field(name) { return form.elements.namedItem(name); }
  function colour(name, fallback) {
    var v = field(name).value.trim().toLowerCase();
    return v === "" ? fallback : (hex.test(v) ? v : null);
  }
  // WCAG 2 relative luminance and contrast ratio (as modules/branding/colour.go).
  function luminance(c) {
    var l = [1, 3, 5].map(function (i) {
      var s = parseInt(c.substr(i, 2), 16) / 255;
      return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
  }
  function contrast(a, b) {
    var x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  function ratio(r) { return (Math.floor(r * 100) / 100).toFixed(2); }
  function note(text, cls) {
    var p = document.createElement("p");
    p.className = "notice " + cls; p.textContent = text;
    warnings.appendChild(p);
  }
  function setText(sel, text) {
    preview.querySelectorAll(sel).forEach(function (el) { el.textContent = text; });
  }
  function showImage(kind) {
    var img = preview.querySelector(kind === "logo" ? ".bp-logo" : ".bp-favicon");
    var input = field(kind), remove = field("remove_" + kind);
    var src = preview.dataset[kind] || "";
    if (input.files && input.files[0]) {
      if (objectURLs[kind]) URL.revokeObjectURL(objectURLs[kind]);
      // An <img> never runs an SVG's scripts, so showing the local file is safe.
      objectURLs[kind] = src = URL.createObjectURL(input.files[0]);
    } else if (remove && remove.checked) {
      src = "";
    }
    img.hidden = src === "";
    if (src) img.src = src; else img.removeAttribute("src");
  }

  function update() {
    var name = field("display_name").value.trim() || defaults.name;
    setText(".bp-name", name); setText(".bp-title", name);
    setText(".bp-sender", field("sender_name").value.trim() || name);
    field("sender_name").placeholder = name;
    setText(".bp-email", field("support_email").value.trim());
    setText(".bp-phone", field("support_phone").value.trim());
    warnings.innerHTML = "";
    var p = colour("primary_color", defaults.primary), a = colour("accent_color", defaults.accent);
    if (p) {
      preview.style.setProperty("--bp-primary", p);
      form.querySelector('[data-for="primary_color"]').value = p;
      var rp = contrast("#ffffff", p);
      if (rp < 4.5) note("White text on the primary colour " + p + " has a contrast ratio of " + ratio(rp) + ":1, below the 4.5:1 that WCAG AA asks for; some people will not be able to read it.", "brand-warn");
    } else {
      note("The primary colour must be of the form #rrggbb.", "notice-error");
    }
    if (a) {
      preview.style.setProperty("--bp-accent", a);
      form.querySelector('[data-for="accent_color"]').value = a;
      var ra = contrast(a, "#ffffff");
      if (ra < 4.5) note("The accent colour " + a + " on white has a contrast ratio of " + ratio(ra) + ":1, below the 4.5:1 that WCAG AA asks for; links and buttons in it will be hard to read.", "brand-warn");
    } else {
      note("The accent colour must be of the form #rrggbb.", "notice-error");
    }
    showImage("logo"); showImage("favicon");
  }

  // The colour pickers write into the text fields, which are what is sent.
  form.querySelectorAll("input[type=color][data-for]").forEach(function (picker) {
    picker.addEventListener("input", function () { field(picker.dataset.for).value = picker.value; update(); });
  });
  form.addEventListener("input", function (e) { if (e.target.type !== "color") update(); });
  form.addEventListener("change", update);
  update();
})();
