// The case filter: shows the rows whose status holds the chosen word. Without scripts every row shows.
document.querySelectorAll(".filters").forEach(function (bar) {
  bar.hidden = false;
  var rows = document.querySelectorAll("#" + bar.dataset.table + " tbody tr");
  bar.querySelectorAll("button").forEach(function (button) {
    button.addEventListener("click", function () {
      var want = button.dataset.filter;
      bar.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      rows.forEach(function (row) {
        row.hidden = want !== "all" && row.dataset.status.split(" ").indexOf(want) < 0;
      });
    });
  });
});
