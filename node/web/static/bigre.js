/* Bigre: progressive enhancement only. Every page works without this file; with it, the navigation folds into a
   menu button on phones, filter panels start folded on phones and open on wide screens, and the trade and town
   fields suggest values as people type (from /api/v1/trades and /api/v1/places). */
(function () {
  "use strict";
  var doc = document.documentElement;
  doc.classList.add("js");
  var narrow = window.matchMedia("(max-width: 760px)");

  function menu() {
    var button = document.querySelector(".menu-button");
    var nav = document.getElementById("site-nav");
    if (!button || !nav) return;
    button.hidden = false;
    function sync() {
      var open = button.getAttribute("aria-expanded") === "true";
      nav.classList.toggle("open", open || !narrow.matches);
    }
    button.addEventListener("click", function () {
      button.setAttribute("aria-expanded", button.getAttribute("aria-expanded") === "true" ? "false" : "true");
      sync();
    });
    narrow.addEventListener("change", sync);
    sync();
  }

  function panels() {
    var all = document.querySelectorAll("details[data-wide-open]");
    function sync() {
      for (var i = 0; i < all.length; i++) {
        if (narrow.matches) all[i].removeAttribute("open"); else all[i].setAttribute("open", "");
      }
    }
    narrow.addEventListener("change", sync);
    sync();
  }

  function label(item, lang) {
    if (item.rome) return lang === "en" ? item.label_en : item.label_fr;
    return item.label;
  }

  function combo(input) {
    var source = input.getAttribute("data-source");
    var lang = input.getAttribute("data-lang") || doc.lang;
    var chipName = input.getAttribute("data-chip-name");
    var list = document.createElement("ul");
    var id = input.id + "-suggestions";
    list.id = id;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    input.parentNode.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", id);
    var timer = null, active = -1, items = [];

    function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; }
    function current() { var parts = input.value.split(","); return parts[parts.length - 1].trim(); }
    function choose(i) {
      var item = items[i];
      if (!item) return;
      if (chipName && item.rome) {
        var chips = input.closest("fieldset").querySelector("[data-chips]");
        if (!chips.querySelector('input[value="' + item.rome + '"]')) {
          var li = document.createElement("li");
          var lab = document.createElement("label");
          lab.className = "chip";
          var box = document.createElement("input");
          box.type = "checkbox"; box.name = chipName; box.value = item.rome; box.checked = true;
          lab.appendChild(box);
          lab.appendChild(document.createTextNode(" " + label(item, lang)));
          li.appendChild(lab);
          chips.appendChild(li);
        }
        var parts = input.value.split(",");
        parts.pop();
        input.value = parts.length ? parts.join(",") + ", " : "";
      } else {
        input.value = item.label;
      }
      close();
      input.focus();
    }
    function show(found) {
      items = found;
      list.innerHTML = "";
      found.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = id + "-" + i;
        li.setAttribute("role", "option");
        li.textContent = label(item, lang);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      list.hidden = found.length === 0;
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = current();
      if (q.length < 2) { close(); return; }
      timer = setTimeout(function () {
        fetch(source + "?q=" + encodeURIComponent(q), { headers: { "Accept": "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { items: [] }; })
          .then(function (data) { show((data.items || []).slice(0, 8)); })
          .catch(function () { close(); });
      }, 150);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      var options = list.querySelectorAll("[role=option]");
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
        options.forEach(function (o, i) { o.setAttribute("aria-selected", i === active ? "true" : "false"); });
        input.setAttribute("aria-activedescendant", options[active].id);
      } else if (e.key === "Enter" && active >= 0) {
        e.preventDefault();
        choose(active);
      } else if (e.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  function start() {
    menu();
    panels();
    document.querySelectorAll("input[data-source]").forEach(combo);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
