import Foundation

/// The report as one self-contained HTML page: the verdicts, charts of speedup, memory and overhead per job with
/// Swift and each Python side by side, the sweeps as line charts, and every row. It loads nothing from anywhere:
/// the charts are inline SVG, the style is inline, and the one inline script only checks that the charts drew.
enum HTMLReport {
    static func render(_ report: LabReport) -> String {
        let runtimes = report.runtimes.filter { runtime in report.rows.contains { $0.runtime == runtime.id } }
        let series = runtimes.enumerated().map { index, runtime in
            SVGChart.Series(name: runtime.id, colour: SVGChart.palette[index % SVGChart.palette.count])
        }
        var body = "<h1>triad compare</h1>\n"
        if report.interrupted {
            body +=
                "<p class=\"interrupted\">Interrupted by \(e(report.interruption ?? "a signal")): the rows are "
                + "those finished before it.</p>\n"
        }
        body += machine(report)
        body += verdictTable(report)
        body += "<h2>Charts</h2>\n"
        body +=
            speedupChart(report.rows, series) + memoryChart(report.rows, series) + overheadChart(report.rows, series)
        body += sweepCharts(report)
        body += rowsTable(report.rows)
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>triad compare: Swift and Python, model by model</title>
            <style>\(style)</style>
            </head>
            <body>
            \(body)
            <script>\(selfCheck)</script>
            </body>
            </html>

            """
    }

    private static func e(_ text: String) -> String { SVGChart.escape(text) }

    private static func machine(_ report: LabReport) -> String {
        let m = report.machine
        var items = [
            "Triad \(report.triad.version), commit \(report.triad.commit), Swift \(report.triad.swiftVersion)",
            "\(m.cores) cores, \(m.cpuModel), \(formatBytes(m.memoryBytes)) of memory, load average "
                + "\(format2(m.loadAverage1m)) at start, \(m.kernel)",
            "Each row: the median of \(runs(report.settings.repeatCount)) after \(report.settings.warmUps) warm-up, with "
                + "the range; Swift and Python runs alternate. Scale \(format2(report.settings.scale)).",
        ]
        if let warning = busyWarning(m) { items.append(warning) }
        for runtime in report.runtimes.dropFirst() {
            var item = "\(runtime.id): \(runtime.executable ?? "")"
            if runtime.freeThreaded == true {
                item += ", free-threaded, GIL \(runtime.gilEnabled == true ? "on" : "off")"
            }
            if let problem = runtime.problem { item += "; left out: \(problem)" }
            items.append(item)
        }
        return "<ul class=\"machine\">" + items.map { "<li>\(e($0))</li>" }.joined() + "</ul>\n"
    }

    private static func verdictTable(_ report: LabReport) -> String {
        let runtimes = report.runtimes.map(\.id)
        var html = "<h2>Verdicts</h2>\n<table class=\"verdicts\"><thead><tr><th>claim</th>"
        html += runtimes.map { "<th>\(e($0))</th>" }.joined() + "<th>measure and rule</th></tr></thead><tbody>\n"
        for (number, text) in Claims.statements {
            html += "<tr><td>\(number). \(e(text))</td>"
            var rule = ""
            var measure = ""
            for runtime in runtimes {
                guard let verdict = report.verdicts.first(where: { $0.claim == number && $0.runtime == runtime }) else {
                    html += "<td></td>"
                    continue
                }
                if rule.isEmpty { rule = verdict.rule }
                if measure.isEmpty { measure = verdict.measure }
                let kind = verdict.outcome.rawValue.replacingOccurrences(of: " ", with: "-")
                html +=
                    "<td class=\"verdict \(kind)\"><strong>\(e(verdict.outcome.rawValue))</strong><br>"
                    + "<small>\(e(verdict.evidence))</small></td>"
            }
            html += "<td><small>\(e(measure))\(rule.isEmpty ? "" : "; " + e(rule))</small></td></tr>\n"
        }
        html += "</tbody></table>\n"
        let advice = report.runtimes.compactMap { runtime -> String? in
            let lines = Advice.lines(rows: report.rows, runtime: runtime.id)
            return lines.isEmpty
                ? nil
                : "<li><strong>\(e(runtime.id))</strong>: " + lines.map(e).joined(separator: "; ")
                    + "</li>"
        }
        if !advice.isEmpty { html += "<h3>Advice on this machine</h3><ul>" + advice.joined() + "</ul>\n" }
        return html
    }

    /// The (workload, model) pairs in report order, and each series' value for each.
    private static func grid(
        _ rows: [LabRow], _ series: [SVGChart.Series], include: (LabRow) -> Bool,
        value: (LabRow) -> Double?
    ) -> (categories: [String], values: [[Double?]]) {
        var categories: [String] = []
        for row in rows where include(row) {
            let name = "\(row.workload) · \(row.model)"
            if !categories.contains(name) { categories.append(name) }
        }
        let values = categories.map { category in
            series.map { serie in
                rows.first { "\($0.workload) · \($0.model)" == category && $0.runtime == serie.name }.flatMap(value)
            }
        }
        return (categories, values)
    }

    private static func speedupChart(_ rows: [LabRow], _ series: [SVGChart.Series]) -> String {
        let (categories, values) = grid(
            rows, series, include: { $0.model != "sequential" && $0.workload != "startup" && $0.speedup != nil }
        ) {
            $0.speedup?.median
        }
        guard !categories.isEmpty else { return "" }
        return SVGChart.bars(
            id: "speedup", title: "Speedup over one thread, per workload and model",
            yTitle: "speedup (×, log scale; 1 = sequential)", categories: categories, series: series, values: values,
            logScale: true, baseline: 1
        )
    }

    private static func memoryChart(_ rows: [LabRow], _ series: [SVGChart.Series]) -> String {
        let (categories, values) = grid(rows, series, include: { _ in true }) { $0.peakRSSBytes.median / 1_048_576 }
        guard !categories.isEmpty else { return "" }
        return SVGChart.bars(
            id: "memory", title: "Peak memory per workload and model (workers included)",
            yTitle: "peak RSS (MiB)", categories: categories, series: series, values: values, logScale: false
        )
    }

    private static func overheadChart(_ rows: [LabRow], _ series: [SVGChart.Series]) -> String {
        let (categories, values) = grid(rows, series, include: { $0.model != "sequential" }) {
            $0.overheadPerJobSeconds.median * 1e6
        }
        guard !categories.isEmpty else { return "" }
        return SVGChart.bars(
            id: "overhead", title: "Overhead per job: what the executor adds to each job",
            yTitle: "overhead per job (µs, log scale)", categories: categories, series: series, values: values,
            logScale: true
        )
    }

    private static func sweepCharts(_ report: LabReport) -> String {
        guard !report.sweeps.isEmpty else { return "" }
        var html = "<h2>Sweeps</h2>\n"
        for (sweep, title, xTitle, yTitle, logX) in [
            ("cpu-workers", "CPU-bound work by worker count", "workers", "wall time (s)", false),
            (
                "tiny-jobs", "Tiny jobs: cost per job by number of jobs", "jobs (log scale)",
                "wall time per job (µs, log scale)", true
            ),
        ] {
            let points = report.sweeps.filter { $0.sweep == sweep }
            var keys: [String] = []
            for point in points where !keys.contains("\(point.runtime) · \(point.model)") {
                keys.append("\(point.runtime) · \(point.model)")
            }
            guard !keys.isEmpty else { continue }
            let series = keys.enumerated().map { index, key in
                SVGChart.Series(name: key, colour: SVGChart.palette[index % SVGChart.palette.count])
            }
            let lines = keys.map { key in
                points.filter { "\($0.runtime) · \($0.model)" == key }.map { point in
                    (
                        x: Double(point.x),
                        y: sweep == "tiny-jobs" ? point.perJobSeconds.median * 1e6 : point.wallSeconds.median
                    )
                }
            }
            html += SVGChart.lines(
                id: "sweep-\(sweep)", title: title, xTitle: xTitle, yTitle: yTitle, series: series, points: lines,
                logX: logX, logY: sweep == "tiny-jobs"
            )
        }
        return html
    }

    private static func rowsTable(_ rows: [LabRow]) -> String {
        var html = "<h2>Rows</h2>\n<table class=\"rows\"><thead><tr>"
        html += [
            "workload", "model", "runtime", "size", "workers", "wall (median, range)", "cpu", "speedup",
            "peak RSS", "overhead/job", "check",
        ].map { "<th>\($0)</th>" }.joined()
        html += "</tr></thead><tbody>\n"
        for row in rows {
            let cells = [
                row.workload, row.model, row.runtime, row.size, String(row.workers),
                "\(formatSeconds(row.wallSeconds.median)) (\(formatSeconds(row.wallSeconds.min))–"
                    + "\(formatSeconds(row.wallSeconds.max)))",
                formatSeconds(row.cpuSeconds.median),
                row.speedup.map { format2($0.median) + "×" + (TableRenderer.tooClose(row, rows) ? " ≈" : "") } ?? "-",
                formatBytes(Int(row.peakRSSBytes.median)), formatMicroseconds(row.overheadPerJobSeconds.median * 1e6),
                row.agrees ? "ok" : "MISMATCH",
            ]
            html += "<tr>" + cells.map { "<td>\(e($0))</td>" }.joined() + "</tr>\n"
        }
        return html + "</tbody></table>\n<p><small>≈: the row's range of wall times overlaps its sequential row's, "
            + "so this run shows no difference between them.</small></p>\n"
    }

    private static let style = """
        body{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}\
        table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:4px 6px;\
        vertical-align:top;text-align:left;font-size:13px}th{background:#f4f4f4}\
        .verdict.holds{background:#dafbe1}.verdict.does-not-hold{background:#fff1c2}\
        .verdict.unclear,.verdict.not-measured{background:#eee}.interrupted{color:#b00;font-weight:bold}\
        svg.chart{display:block;margin:12px 0;background:#fff;border:1px solid #eee}
        """

    /// Records, on each chart and on the page, how many bars and lines drew with a real size, and any script error:
    /// what the tests read back from a headless browser.
    private static let selfCheck = """
        (function(){var errors=[];window.addEventListener('error',function(ev){errors.push(String(ev.message));\
        document.body.setAttribute('data-errors',errors.join(' | '));});\
        window.addEventListener('load',function(){var charts=document.querySelectorAll('svg.chart');var total=0;\
        charts.forEach(function(svg){var drawn=0;svg.querySelectorAll('rect.bar,polyline.line').forEach(function(el){\
        var box=el.getBBox();if(box.width>0&&box.height>=0&&(box.width+box.height)>0){drawn++;}});\
        svg.setAttribute('data-drawn',String(drawn));total+=drawn;});\
        document.body.setAttribute('data-charts',String(charts.length));\
        document.body.setAttribute('data-drawn',String(total));\
        document.body.setAttribute('data-errors',errors.join(' | '));});})();
        """
}
