import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import TriadCore
import TriadLifecycle
import TriadProcesses
import UnixSignals

@main
struct App {
    static func main() async throws {
        // First statement: in a worker process started by the pool, this runs the worker and never returns.
        ProcessPool.bootstrap(jobs: [CountPrimes.self, ParseUntrusted.self])

        let environment = ProcessInfo.processInfo.environment
        let port = environment["PORT"].flatMap(Int.init) ?? 8080
        let workers = environment["WORKERS"].flatMap(Int.init) ?? 2
        var logger = Logger(label: "hummingbird-offload")
        logger.logLevel = environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

        // Metrics for the whole program, Triad's pool included, exposed at /metrics.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        var configuration = ProcessPoolConfiguration(workers: workers)
        configuration.logger = logger
        configuration.name = "offload"
        configuration.defaultTimeout = .seconds(30)
        let pool = ProcessPoolExecutor(configuration: configuration)

        let app = Application(
            router: makeRouter(pool: pool, registry: registry),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "HummingbirdOffload"),
            onServerRunning: { channel in
                // The port the server took (PORT=0 asks for any), for whoever started it.
                FileHandle.standardOutput.write(Data("listening on \(channel.localAddress?.port ?? port)\n".utf8))
            },
            logger: logger
        )
        let group = ServiceGroup(
            configuration: .init(
                // The pool first: a group shuts its services down in reverse order, so the HTTP server stops taking
                // requests before the pool drains the jobs in flight.
                services: [
                    .init(
                        service: ExecutorService(
                            pool, name: "offload", drain: DrainPolicy(gracePeriod: .seconds(20)), logger: logger
                        )
                    ),
                    .init(service: app),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        print("stopped")
    }

    static func makeRouter(
        pool: ProcessPoolExecutor,
        registry: PrometheusCollectorRegistry
    ) -> Router<BasicRequestContext> {
        let router = Router()
        // CPU-bound work in the pool: the event loop stays free for other requests.
        router.get("/primes/{limit}") { _, context -> String in
            let limit = try context.parameters.require("limit", as: Int.self)
            return String(try await pool.submit(CountPrimes(limit: limit)).value)
        }
        // The same work on the event loop, for comparison: every other request on this loop waits for it.
        router.get("/primes-inline/{limit}") { _, context -> String in
            let limit = try context.parameters.require("limit", as: Int.self)
            return String(CountPrimes(limit: limit).count())
        }
        // Crash-prone work: a crash fails this request with a 500 that names it, and the pool serves on.
        router.get("/parse/{document}") { _, context -> String in
            let document = try context.parameters.require("document")
            do {
                return String(try await pool.submit(ParseUntrusted(document: document)).value)
            } catch let error as ExecutorError where error.code == .workerCrashed {
                throw HTTPError(.internalServerError, message: "the parser crashed: \(error.message)")
            }
        }
        router.get("/metrics") { _, _ -> String in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return String(decoding: buffer, as: UTF8.self)
        }
        return router
    }
}
