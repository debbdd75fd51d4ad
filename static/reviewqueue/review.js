/* Review Queue: behaviour of the reviewer's pages.
 *
 * Loaded with `defer` after htmx (no inline scripts: a Content Security Policy will forbid
 * them). Everything here is an enhancement: every control is a plain form or link that
 * also works without JavaScript.
 */
(function () {
  "use strict";

  // htmx 2 swaps only 2xx answers by default. Ours answer 400 with the refused form and its
  // errors, and 409 with the reason a lease was lost: both carry the #item partial to show.
  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(400|409|422)", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
      { code: "...", swap: false },
    ];
    // htmx would inject an inline <style> for request indicators; we use none, and a
    // Content Security Policy without 'unsafe-inline' would refuse it.
    window.htmx.config.includeIndicatorStyles = false;
  }

  var FOCUS_IN_PANEL = {
    modify: ".form-fields input, .form-fields select, .form-fields textarea",
    reject: "#reject-reason",
    escalate: "#escalate-comment",
  };

  function one(selector, root) {
    return (root || document).querySelector(selector);
  }

  function all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  /* ---- Panels: the Modify, Reject and Escalate forms ------------------------------ */

  function panel(name) {
    return one('#item [data-panel="' + name + '"]');
  }

  function opener(name) {
    return one('#item form[data-opens="' + name + '"] button');
  }

  function openPanelName() {
    var open = one("#item [data-panel]:not([hidden])");
    return open ? open.getAttribute("data-panel") : null;
  }

  function closePanels(except) {
    all("#item [data-panel]").forEach(function (p) {
      var name = p.getAttribute("data-panel");
      if (name === except) return;
      p.hidden = true;
      var button = opener(name);
      if (button) button.setAttribute("aria-expanded", "false");
    });
  }

  function focusInPanel(p, name) {
    var target =
      one('[aria-invalid="true"]', p) || one(FOCUS_IN_PANEL[name] || "input, select, textarea", p);
    if (target) target.focus();
  }

  function openPanel(name) {
    var p = panel(name);
    var button = opener(name);
    if (!p || (button && button.disabled)) return;
    closePanels(name);
    p.hidden = false;
    if (button) button.setAttribute("aria-expanded", "true");
    focusInPanel(p, name);
  }

  function closePanel(name) {
    closePanels(null);
    var button = opener(name);
    if (button) button.focus();
  }

  function togglePanel(name) {
    var p = panel(name);
    if (p && !p.hidden) closePanel(name);
    else openPanel(name);
  }

  // The openers are GET forms (?panel=modify) so they work without JavaScript; with it,
  // the panel is already on the page and only needs showing.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-opens")) {
      event.preventDefault();
      togglePanel(form.getAttribute("data-opens"));
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var close = target.closest("[data-panel-close]");
    if (close) {
      event.preventDefault();
      var p = close.closest("[data-panel]");
      closePanel(p ? p.getAttribute("data-panel") : null);
      return;
    }
    if (target.closest("[data-help-open]")) {
      toggleHelp();
      return;
    }
    var help = one("#help");
    if (help && target === help) help.close(); // a click on the backdrop
  });

  // "Edit as JSON": typing in the JSON box means "submit this JSON"; then the generated
  // fields no longer need to pass the browser's own checks.
  function syncJsonMode(form) {
    var box = one("[data-use-json]", form);
    if (box) form.noValidate = box.checked;
  }

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target instanceof HTMLTextAreaElement && target.hasAttribute("data-payload-json")) {
      var box = one("[data-use-json]", target.form);
      if (box && !box.checked) box.checked = true;
      syncJsonMode(target.form);
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.hasAttribute("data-use-json")) {
      syncJsonMode(target.form);
    }
  });

  /* ---- Help dialog ------------------------------------------------------------------ */

  function toggleHelp() {
    var help = one("#help");
    if (!help) return;
    if (help.open) help.close();
    else help.showModal();
  }

  /* ---- Keyboard ----------------------------------------------------------------------- */

  function isTyping(element) {
    if (!(element instanceof Element)) return false;
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.isComposing || event.repeat) return;
    var help = one("#help");
    if (event.key === "Escape") {
      var name = openPanelName();
      if (name && !(help && help.open)) {
        event.preventDefault();
        closePanel(name);
      }
      return;
    }
    if (isTyping(event.target)) return;
    if (event.key === "?") {
      event.preventDefault();
      toggleHelp();
      return;
    }
    if (help && help.open) return;
    if (!one("#item [data-rec]")) {
      // Holding nothing: `n` claims the next item (a POST form, as without JavaScript).
      var claim = one("#item [data-claim-next]");
      if (event.key === "n" && claim && !claim.disabled) {
        event.preventDefault();
        claim.click();
      }
      return;
    }
    var key = event.key;
    if (key === "a") {
      // Approving while a form is open is far more likely a slip than a decision.
      if (openPanelName()) return;
      var approve = one('#item [data-action="approve"]');
      if (approve && !approve.disabled) {
        event.preventDefault();
        approve.click();
      }
    } else if (key === "m" || key === "r" || key === "e") {
      // preventDefault, or the key's character lands in the field that now has focus.
      event.preventDefault();
      openPanel({ m: "modify", r: "reject", e: "escalate" }[key]);
    }
  });

  /* ---- Lease countdown ---------------------------------------------------------------- */

  function clockText(seconds) {
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  // Counts down from the seconds the server computed, so a wrong clock on this machine
  // does not matter.
  function tickLeases() {
    all("[data-lease]").forEach(function (lease) {
      if (!lease.dataset.deadline) {
        var seconds = parseInt(lease.getAttribute("data-lease-seconds"), 10) || 0;
        lease.dataset.deadline = String(Date.now() + seconds * 1000);
      }
      var left = Math.max(0, Math.round((Number(lease.dataset.deadline) - Date.now()) / 1000));
      var clock = one("[data-lease-clock]", lease);
      if (clock) clock.textContent = clockText(left);
      lease.classList.toggle("is-low", left > 0 && left <= 60);
      if (left === 0 && !lease.classList.contains("is-expired")) {
        lease.classList.add("is-expired");
        var message = one("[data-lease-expired]", lease.parentNode);
        if (message) message.hidden = false;
      }
    });
  }

  /* ---- After htmx swaps a new #item in ------------------------------------------------ */

  function flash(text) {
    var box = one("#flash");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  function settleItem() {
    var item = one("#item");
    if (!item) return;
    tickLeases();
    all("form", item).forEach(syncJsonMode);
    var name = openPanelName();
    if (name) {
      focusInPanel(panel(name), name);
      return;
    }
    var target =
      one("#rec-title", item) || one("[data-claim-next]", item) || one("[data-check-again]", item);
    if (target) target.focus({ preventScroll: true });
    if (item.getBoundingClientRect().top < 0) item.scrollIntoView({ block: "start" });
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target instanceof Element && event.target.id === "item") {
      flash("");
      settleItem();
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail && event.detail.xhr ? event.detail.xhr.status : "";
    var text =
      status === 403
        ? "You are not allowed to do that here any more. Reload the page."
        : "The server could not do that (" + status + "). Reload the page and try again.";
    flash(text);
  });

  document.addEventListener("htmx:sendError", function () {
    flash("Could not reach the server. Check your connection and try again.");
  });

  function start() {
    document.documentElement.classList.add("js");
    all("[data-help-open]").forEach(function (button) {
      button.hidden = false;
    });
    all("#item form").forEach(syncJsonMode);
    // Holding nothing: Enter claims the next item.
    var claim = one("#item [data-claim-next]");
    if (claim && !one("#item [data-rec]")) claim.focus({ preventScroll: true });
    tickLeases();
    window.setInterval(tickLeases, 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
