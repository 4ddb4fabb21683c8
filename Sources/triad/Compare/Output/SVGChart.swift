import Foundation

/// Inline SVG charts for the HTML report: grouped bars and lines, each with titled axes and units, drawn by hand so
/// that the page needs no script or font from anywhere.
enum SVGChart {
    static let palette = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989"]

    /// One series of bars or of a line: a runtime, or a runtime and model.
    struct Series {
        var name: String
        var colour: String
    }

    private static let width = 960.0
    private static let height = 360.0
    private static let left = 70.0
    private static let right = 20.0
    private static let top = 40.0
    private static let bottom = 90.0

    /// A bar chart: for each category, one bar per series; a `nil` value draws no bar. On a log scale the bars
    /// start at `baseline` (1 for speedups, so that slower-than-one bars point down).
    static func bars(
        id: String, title: String, yTitle: String, categories: [String], series: [Series], values: [[Double?]],
        logScale: Bool, baseline: Double? = nil
    ) -> String {
        let present = values.flatMap { $0 }.compactMap { $0 }.filter { !logScale || $0 > 0 }
        let scale = Scale(values: present + (baseline.map { [$0] } ?? []), log: logScale, includeZero: !logScale)
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        var svg = open(id: id, title: title)
        svg += axes(scale: scale, yTitle: yTitle, plotHeight: plotHeight, plotWidth: plotWidth)
        let groupWidth = plotWidth / Double(max(1, categories.count))
        let barWidth = max(2, groupWidth * 0.8 / Double(max(1, series.count)))
        let base = scale.position(baseline ?? scale.lower, height: plotHeight)
        for (column, category) in categories.enumerated() {
            let groupLeft = left + Double(column) * groupWidth + groupWidth * 0.1
            for (row, serie) in series.enumerated() {
                guard let value = values[column][row], !logScale || value > 0 else { continue }
                let y = scale.position(value, height: plotHeight)
                let x = groupLeft + Double(row) * barWidth
                let (rectTop, rectHeight) = y < base ? (y, base - y) : (base, y - base)
                svg +=
                    "<rect class=\"bar\" data-series=\"\(escape(serie.name))\" data-category=\"\(escape(category))\" "
                    + "data-value=\"\(value)\" x=\"\(f(x))\" y=\"\(f(top + rectTop))\" width=\"\(f(barWidth - 1))\" "
                    + "height=\"\(f(max(1, rectHeight)))\" fill=\"\(serie.colour)\"><title>\(escape(serie.name)), "
                    + "\(escape(category)): \(escape(Scale.label(value)))</title></rect>\n"
            }
            let labelX = left + (Double(column) + 0.5) * groupWidth
            svg +=
                "<text class=\"category\" x=\"\(f(labelX))\" y=\"\(f(top + plotHeight + 14))\" "
                + "transform=\"rotate(30 \(f(labelX)) \(f(top + plotHeight + 14)))\" font-size=\"11\">"
                + "\(escape(category))</text>\n"
        }
        svg += legend(series)
        return svg + "</svg>\n"
    }

    /// A line chart: one line per series through its (x, y) points.
    static func lines(
        id: String, title: String, xTitle: String, yTitle: String, series: [Series], points: [[(x: Double, y: Double)]],
        logX: Bool, logY: Bool
    ) -> String {
        let xs = points.flatMap { $0 }.map(\.x)
        let ys = points.flatMap { $0 }.map(\.y).filter { !logY || $0 > 0 }
        let xScale = Scale(values: xs, log: logX, includeZero: false)
        let yScale = Scale(values: ys, log: logY, includeZero: !logY)
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        var svg = open(id: id, title: title)
        svg += axes(scale: yScale, yTitle: yTitle, plotHeight: plotHeight, plotWidth: plotWidth)
        // A linear x axis counts things (workers): its ticks are the measured values themselves.
        for tick in logX ? xScale.ticks() : Array(Set(xs)).sorted() {
            let x = left + plotWidth - xScale.position(tick, height: plotWidth)
            svg +=
                "<text x=\"\(f(x))\" y=\"\(f(top + plotHeight + 16))\" font-size=\"11\" text-anchor=\"middle\">"
                + "\(escape(Scale.label(tick)))</text>\n"
        }
        svg +=
            "<text class=\"axis-title\" x=\"\(f(left + plotWidth / 2))\" y=\"\(f(top + plotHeight + 40))\" "
            + "font-size=\"13\" text-anchor=\"middle\">\(escape(xTitle))</text>\n"
        for (index, serie) in series.enumerated() {
            let coordinates = points[index].filter { !logY || $0.y > 0 }.map { point in
                (
                    left + plotWidth - xScale.position(point.x, height: plotWidth),
                    top + yScale.position(point.y, height: plotHeight)
                )
            }
            guard !coordinates.isEmpty else { continue }
            let path = coordinates.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
            svg +=
                "<polyline class=\"line\" data-series=\"\(escape(serie.name))\" points=\"\(path)\" fill=\"none\" "
                + "stroke=\"\(serie.colour)\" stroke-width=\"2\"/>\n"
            for (x, y) in coordinates {
                svg += "<circle class=\"point\" cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"3\" fill=\"\(serie.colour)\"/>\n"
            }
        }
        svg += legend(series)
        return svg + "</svg>\n"
    }

    private static func open(id: String, title: String) -> String {
        "<svg class=\"chart\" id=\"\(id)\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) "
            + "\(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" "
            + "aria-label=\"\(escape(title))\">\n<text class=\"chart-title\" x=\"\(f(width / 2))\" y=\"22\" "
            + "font-size=\"16\" font-weight=\"bold\" text-anchor=\"middle\">\(escape(title))</text>\n"
    }

    private static func axes(scale: Scale, yTitle: String, plotHeight: Double, plotWidth: Double) -> String {
        var svg =
            "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotHeight))\" stroke=\"#444\"/>\n"
        svg +=
            "<line x1=\"\(f(left))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(left + plotWidth))\" "
            + "y2=\"\(f(top + plotHeight))\" stroke=\"#444\"/>\n"
        for tick in scale.ticks() {
            let y = top + scale.position(tick, height: plotHeight)
            svg +=
                "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y))\" stroke=\"#ddd\"/>\n"
            svg +=
                "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" font-size=\"11\" text-anchor=\"end\">"
                + "\(escape(Scale.label(tick)))</text>\n"
        }
        svg +=
            "<text class=\"axis-title\" x=\"16\" y=\"\(f(top + plotHeight / 2))\" font-size=\"13\" "
            + "text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(top + plotHeight / 2)))\">\(escape(yTitle))</text>\n"
        return svg
    }

    private static func legend(_ series: [Series]) -> String {
        var svg = ""
        var x = left
        for serie in series {
            svg +=
                "<rect class=\"legend\" x=\"\(f(x))\" y=\"\(f(height - 16))\" width=\"10\" height=\"10\" "
                + "fill=\"\(serie.colour)\"/><text x=\"\(f(x + 14))\" y=\"\(f(height - 7))\" font-size=\"11\">"
                + "\(escape(serie.name))</text>\n"
            x += 24 + Double(serie.name.count) * 6.5
        }
        return svg
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    private static func f(_ value: Double) -> String { String(format: "%.1f", value) }
}

/// A linear or logarithmic axis from the smallest to the largest value.
private struct Scale {
    var lower: Double
    var upper: Double
    var log: Bool

    init(values: [Double], log: Bool, includeZero: Bool) {
        self.log = log
        var low = values.min() ?? 0
        var high = values.max() ?? 1
        if log {
            low = pow(10, floor(log10(max(low, 1e-12))))
            high = pow(10, ceil(log10(max(high, low * 10))))
            if high <= low { high = low * 10 }
        } else {
            if includeZero { low = min(0, low) }
            if high <= low { high = low + 1 }
            high *= 1.08
        }
        lower = low
        upper = high
    }

    /// Distance from the top (or, for x, from the right) of a plot `height` long.
    func position(_ value: Double, height: Double) -> Double {
        let fraction =
            log
            ? (log10(max(value, lower)) - log10(lower)) / (log10(upper) - log10(lower))
            : (value - lower) / (upper - lower)
        return height * (1 - fraction)
    }

    func ticks() -> [Double] {
        if log {
            let first = Int(log10(lower).rounded())
            let last = Int(log10(upper).rounded())
            return (first...max(first, last)).map { pow(10, Double($0)) }
        }
        return (0...4).map { lower + (upper - lower) * Double($0) / 4 }
    }

    static func label(_ value: Double) -> String {
        if value == 0 { return "0" }
        if value >= 1_000_000 { return String(format: "%gM", value / 1_000_000) }
        if value >= 1000 { return String(format: "%gk", value / 1000) }
        if value >= 10 { return String(format: "%.0f", value) }
        if value >= 1 { return String(format: "%.2g", value) }
        return String(format: "%.2g", value)
    }
}
