import TriadCore

/// The process pool's metrics: an executor's (see `ExecutorMetrics` for the labels), with messages in flight and
/// worker restarts.
package typealias PoolMetrics = ExecutorMetrics

extension ExecutorMetrics {
    /// The metrics of a pool configured so, or nil when the pool has nowhere to report.
    static func make(_ configuration: ProcessPoolConfiguration) -> PoolMetrics? {
        make(
            factory: configuration.metricsFactory,
            prefix: configuration.metricsLabelPrefix,
            name: configuration.name,
            inFlight: "messages_in_flight",
            restarts: true
        )
    }
}
