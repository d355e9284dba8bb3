/* Mediamon: the part of bootstrap-table that GX Data Docs use, so the docs render offline.
 *
 * GX writes each table as an empty <table> plus an inline call
 * $('#id').bootstrapTable({columns, data, rowAttributes, rowStyle, ...}); without the library
 * (a CDN file) the index page's run list stays empty. This draws the rows as a plain Bootstrap
 * table: no sorting or filter controls, which a page of one gate run does not need.
 * It also lets GX's Bootstrap 4 markup (data-toggle, data-target) drive Bootstrap 5, which the
 * docs load from an installed package.
 */
(function ($) {
  "use strict";
  if (!$) { return; }

  function named(option) {
    // GX passes callbacks by the name of a global function it defines inline.
    return typeof option === "string" ? window[option] : option;
  }

  $.fn.bootstrapTable = function (options) {
    if (typeof options !== "object" || options === null) {
      return this; // method calls such as 'resetSearch' (GX's "Clear Filters" button)
    }
    return this.each(function () {
      var $table = $(this).addClass("table table-sm table-hover");
      var columns = options.columns || [];
      var attributes = named(options.rowAttributes);
      var style = named(options.rowStyle);
      var $head = $("<tr>");
      columns.forEach(function (c) { $head.append($("<th>").html(c.title || "")); });
      var $body = $("<tbody>");
      (options.data || []).forEach(function (row, i) {
        var $tr = $("<tr>");
        if (typeof attributes === "function") {
          $.each(attributes(row, i) || {}, function (k, v) { $tr.attr(k, v); });
        }
        if (typeof style === "function") {
          var s = style(row, i) || {};
          if (s.css) { $tr.css(s.css); }
          if (s.classes) { $tr.addClass(s.classes); }
        }
        columns.forEach(function (c) {
          var value = row[c.field];
          $tr.append($("<td>").html(value === undefined || value === null ? "" : String(value)));
        });
        $tr.on("click", function () { $table.trigger("click-row.bs.table", [row, $tr]); });
        $body.append($tr);
      });
      $table.empty().append($("<thead>").append($head), $body);
    });
  };

  $(function () {
    [["data-toggle", "data-bs-toggle"], ["data-target", "data-bs-target"],
     ["data-parent", "data-bs-parent"], ["data-dismiss", "data-bs-dismiss"]].forEach(function (p) {
      $("[" + p[0] + "]").each(function () {
        if (!this.hasAttribute(p[1])) { this.setAttribute(p[1], this.getAttribute(p[0])); }
      });
    });
  });
})(window.jQuery);
