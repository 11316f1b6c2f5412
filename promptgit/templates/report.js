// The case table: every case of a suite sits in its JSON data block (html_report.packed); this shows the
// rows whose status holds the chosen filter word, one page at a time, built as text nodes (never as
// markup). The buttons' counts come counted over every case. Without scripts the first page shows.
(function () {
  "use strict";

  function cell(row, className) {
    var td = document.createElement("td");
    td.className = className;
    row.appendChild(td);
    return td;
  }

  function plain(row, text, className) {
    cell(row, className || "").textContent = text;
  }

  // An output: null (that side has no such case) or strings alternating unchanged and changed text.
  // coarse: the note a cell whose diff was bounded carries (html_report.COARSE_NOTE), else "".
  function output(row, className, parts, coarse) {
    var td = cell(row, className);
    if (parts === null) {
      var none = document.createElement("span");
      none.className = "muted";
      none.textContent = "—";
      td.appendChild(none);
      return;
    }
    parts.forEach(function (text, i) {
      if (i % 2 === 0) {
        td.appendChild(document.createTextNode(text));
      } else {
        var span = document.createElement("span");
        span.className = "changed";
        span.textContent = text;
        td.appendChild(span);
      }
    });
    if (coarse) {
      var note = document.createElement("span");
      note.className = "diff-note";
      note.title = coarse;
      note.textContent = " ◊";
      td.appendChild(note);
    }
  }

  // [id, status, score, expected, base, head (1: as base), reasons, coarse]
  function render(data, compared, coarseNote) {
    var tr = document.createElement("tr");
    tr.dataset.status = data[1];
    plain(tr, data[0]);
    plain(tr, data[1]);
    plain(tr, data[2]);
    plain(tr, data[3], "text");
    if (compared) {
      output(tr, "text base", data[4], "");
    }
    output(tr, "text head", data[5] === 1 ? data[4] : data[5], data[7] === 1 ? coarseNote : "");
    plain(tr, data[6], "text reasons");
    return tr;
  }

  document.querySelectorAll("script.case-data").forEach(function (block) {
    var id = block.dataset.table;
    var table = document.getElementById(id);
    var bar = document.querySelector('.filters[data-table="' + id + '"]');
    var pager = document.querySelector('.pager[data-table="' + id + '"]');
    var note = table.parentNode.querySelector(".paging-note");
    var rows = JSON.parse(block.textContent);
    var compared = table.dataset.compared === "yes";
    var PAGE = Number(table.dataset.pageRows); // html_report.PAGE_ROWS
    var body = table.tBodies[0];
    var shown = rows;
    var page = 0;

    function pages() {
      return Math.max(1, Math.ceil(shown.length / PAGE));
    }

    function draw() {
      var fragment = document.createDocumentFragment();
      shown.slice(page * PAGE, (page + 1) * PAGE).forEach(function (data) {
        fragment.appendChild(render(data, compared, table.dataset.coarseNote));
      });
      body.replaceChildren(fragment);
      var first = shown.length ? page * PAGE + 1 : 0;
      var last = Math.min((page + 1) * PAGE, shown.length);
      pager.querySelector(".position").textContent =
        "cases " + first + "–" + last + " of " + shown.length + " · page " + (page + 1) + " of " + pages();
      pager.querySelectorAll("button").forEach(function (b) {
        var back = b.dataset.page === "first" || b.dataset.page === "previous";
        b.disabled = back ? page === 0 : page >= pages() - 1;
      });
    }

    bar.hidden = false;
    pager.hidden = false;
    if (note) {
      note.hidden = true;
    }
    bar.querySelectorAll("button").forEach(function (button) {
      button.addEventListener("click", function () {
        var want = button.dataset.filter;
        bar.querySelectorAll("button").forEach(function (b) {
          b.setAttribute("aria-pressed", String(b === button));
        });
        shown = want === "all" ? rows : rows.filter(function (data) {
          return data[1].split(" ").indexOf(want) >= 0;
        });
        page = 0;
        draw();
      });
    });
    pager.querySelectorAll("button").forEach(function (button) {
      button.addEventListener("click", function () {
        var to = { first: 0, previous: page - 1, next: page + 1, last: pages() - 1 }[button.dataset.page];
        page = Math.min(Math.max(to, 0), pages() - 1);
        draw();
      });
    });
    draw();
  });
})();
