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
    // htmx wires a swapped-in item's forms only when it settles, 20 ms later by default: a
    // key pressed in between submitted a plain form (a full page load). We animate no
    // settling attributes, so settle at once.
    window.htmx.config.defaultSettleDelay = 0;
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

  // The sticky action bar covers the top of the window once the page scrolls: whatever we
  // bring into view must land below it (CSS scroll-margin-top says the same for the
  // browser's own scrolling, from --sticky-bar).
  function stickyBottom() {
    var bar = one("#item .actions");
    if (!bar) return 0;
    var height = bar.getBoundingClientRect().height;
    document.documentElement.style.setProperty("--sticky-bar", Math.ceil(height) + "px");
    return getComputedStyle(bar).position === "sticky" ? height : 0;
  }

  function revealBelowBar(element) {
    var top = stickyBottom() + 8;
    var rect = element.getBoundingClientRect();
    if (rect.top < top) window.scrollBy(0, rect.top - top);
    else if (rect.bottom > window.innerHeight && rect.height < window.innerHeight - top) {
      window.scrollBy(0, rect.bottom - window.innerHeight + 8);
    }
  }

  function focusInPanel(p, name) {
    // A refused save: the error summary first (it links to each field), then the field.
    var target =
      one("[data-error-summary]", p) ||
      one('[aria-invalid="true"]', p) ||
      one(FOCUS_IN_PANEL[name] || "input, select, textarea", p);
    if (!target) return;
    target.focus({ preventScroll: true });
    revealBelowBar(target);
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
    var link = target.closest("[data-error-summary] a[href^='#']");
    if (link) {
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (field) {
        event.preventDefault();
        field.focus({ preventScroll: true });
        revealBelowBar(field);
      }
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
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-reasons")) {
      showReasonHint(target);
    }
  });

  /* ---- Reasons: labels shown, codes sent; keys 1-9 pick the n-th ------------------- */

  function showReasonHint(select) {
    var hint = document.getElementById(select.id + "-hint");
    var option = select.options[select.selectedIndex];
    if (hint) hint.textContent = option ? option.getAttribute("data-hint") || "" : "";
  }

  // Option 0 is "Choose a reason…", so option n is reason n.
  function pickReason(select, n) {
    if (!select || n >= select.options.length) return false;
    select.selectedIndex = n;
    select.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function reasonKey(key) {
    return key.length === 1 && key >= "1" && key <= "9" ? Number(key) : 0;
  }

  /* ---- Guidelines: collapsed stays collapsed (per queue) until they change ---------- */

  function guidelinesKey(details) {
    return "reviewqueue:guidelines:" + details.getAttribute("data-guidelines");
  }

  function remembered(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (e) {
      return null; // storage disabled: the panel simply starts open
    }
  }

  function remember(key, value) {
    try {
      if (value) window.localStorage.setItem(key, value);
      else window.localStorage.removeItem(key);
    } catch (e) {
      /* storage disabled or full: nothing to remember with */
    }
  }

  function startGuidelines() {
    var details = one("[data-guidelines]");
    if (!details) return;
    var version = details.getAttribute("data-guidelines-version");
    if (remembered(guidelinesKey(details)) === "closed:" + version) details.open = false;
    details.addEventListener("toggle", function () {
      remember(guidelinesKey(details), details.open ? "" : "closed:" + version);
    });
  }

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
    var n = reasonKey(event.key);
    if (n && event.target instanceof HTMLSelectElement && event.target.hasAttribute("data-reasons")) {
      // In a reason list a digit picks that reason (the options are numbered alike).
      if (pickReason(event.target, n)) event.preventDefault();
      return;
    }
    if (isTyping(event.target)) return;
    if (event.key === "?") {
      event.preventDefault();
      toggleHelp();
      return;
    }
    if (help && help.open) return;
    if (event.key === "z") {
      // Undo the decision just made, while its window is open (the button shows).
      var undoButton = one("#item [data-undo]");
      if (undoButton && !undoButton.disabled) {
        event.preventDefault();
        undoButton.click();
      }
      return;
    }
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
    } else if (key === "s") {
      // Release (skip): like Approve, not while a form is open.
      if (openPanelName()) return;
      var release = one('#item [data-action="release"]');
      if (release && !release.disabled) {
        event.preventDefault();
        release.click();
      }
    } else if (key === "o") {
      var link = one("#item .evidence a[href]");
      if (link) {
        event.preventDefault();
        link.click(); // target=_blank, rel=noopener: a new tab, this page stays
      }
    } else if (reasonKey(key)) {
      // The reason of the open Modify or Reject form; with neither open, Reject's.
      var name = openPanelName();
      if (name !== "modify" && name !== "reject") name = "reject";
      var select = one("select[data-reasons]", panel(name));
      if (!select || select.options.length <= reasonKey(key)) return;
      event.preventDefault();
      if (openPanelName() !== name) openPanel(name);
      pickReason(select, reasonKey(key));
      select.focus({ preventScroll: true });
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

  // The Undo button goes when the window closes (the server counted its seconds, so the
  // browser's clock does not matter); a click after that would only be refused.
  function expireUndo() {
    var form = one("#item [data-undo-seconds]");
    if (!form) return;
    var seconds = parseInt(form.getAttribute("data-undo-seconds"), 10) || 0;
    window.setTimeout(function () {
      if (form.isConnected) form.remove();
    }, seconds * 1000);
  }

  function settleItem() {
    var item = one("#item");
    if (!item) return;
    tickLeases();
    expireUndo();
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
    startGuidelines();
    expireUndo();
    // A refused save posted without htmx (no JavaScript had run): the summary in view.
    var name = openPanelName();
    if (name && one("[data-error-summary]", panel(name))) focusInPanel(panel(name), name);
    // Holding nothing: Enter claims the next item.
    var claim = one("#item [data-claim-next]");
    if (claim && !one("#item [data-rec]")) claim.focus({ preventScroll: true });
    tickLeases();
    window.setInterval(tickLeases, 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
