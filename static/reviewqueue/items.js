/* Review Queue: the items list's keys. `j` and `k` move the selected row, `Enter` opens it
 * (its item link), `x` selects it for a bulk decision. Keys never fire while typing in a field. An enhancement only: every row
 * has a plain link, and the filters are a GET form.
 */
(function () {
  "use strict";

  var selected = -1;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#items tr[data-row]"));
  }

  function isTyping(element) {
    if (!(element instanceof Element)) return false;
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  function select(index) {
    var all = rows();
    if (!all.length) return;
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (row, i) {
      row.classList.toggle("is-selected", i === index);
      if (i === index) row.setAttribute("aria-selected", "true");
      else row.removeAttribute("aria-selected");
    });
    selected = index;
    var link = all[index].querySelector("th a");
    if (link) link.focus({ preventScroll: true });
    all[index].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.isComposing || isTyping(event.target)) return;
    if (!document.querySelector("#items")) return;
    if (event.key === "j") {
      event.preventDefault();
      select(selected + 1);
    } else if (event.key === "k") {
      event.preventDefault();
      select(selected < 0 ? 0 : selected - 1);
    } else if (event.key === "Enter" && selected >= 0) {
      var row = rows()[selected];
      // Enter on a focused link or button does its own thing; elsewhere it opens the row.
      if (!row || (event.target instanceof Element && event.target.closest("a, button") && !row.contains(event.target))) return;
      event.preventDefault();
      window.location.assign(row.getAttribute("data-href"));
    } else if (event.key === "x" && selected >= 0) {
      // Select the row for a bulk decision (its checkbox), or unselect it.
      var box = rows()[selected] && rows()[selected].querySelector('input[name="ids"]');
      if (box) {
        event.preventDefault();
        box.checked = !box.checked;
      }
    }
  });

  // A new table (filters, sort, next page): the selection starts again.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "items") selected = -1;
  });
})();
