// The import progress on /app/: each import still queued or running (a row with data-import-status) asks its
// status URL every two seconds and moves its progress bar, counts and place in line, until it ends. Loaded from
// this site (the page's CSP allows no inline script); without it the page shows the same figures as of loading.
(function () {
  "use strict";

  var EVERY_MS = 2000;

  function set(row, field, text) {
    var cell = row.querySelector('[data-field="' + field + '"]');
    if (cell) {
      cell.textContent = text;
    }
  }

  function place(job) {
    if (job.place_in_line === null) {
      return "\u2014";
    }
    return job.place_in_line === 0 ? "next" : job.place_in_line + " ahead";
  }

  function show(row, job) {
    var bar = row.querySelector("progress");
    if (bar && job.total) {
      bar.max = job.total;
      bar.value = job.done;
    } else if (bar && job.status === "done") {
      bar.max = 1;
      bar.value = 1;
    }
    set(row, "status", job.status);
    set(row, "done", job.total ? job.done + " of " + job.total : String(job.done));
    set(row, "place", job.status === "running" || job.status === "queued" ? place(job) : "\u2014");
    set(row, "imported", String(job.imported));
    set(row, "duplicates", String(job.duplicates));
    set(row, "failed", String(job.failed));
  }

  function follow(row) {
    var url = row.getAttribute("data-import-status");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : Promise.reject(response.status);
        })
        .then(function (job) {
          show(row, job);
          if (job.status === "queued" || job.status === "running") {
            window.setTimeout(tick, EVERY_MS);
          }
        })
        .catch(function () {
          // signed out, or the import is gone: the figures stay as they were; a reload shows the truth
        });
    }
    window.setTimeout(tick, EVERY_MS);
  }

  document.querySelectorAll("tr[data-import-status]").forEach(follow);
})();
