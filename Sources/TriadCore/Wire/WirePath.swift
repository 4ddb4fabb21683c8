import Synchronization

/// Which way the codec takes for a type: its own `Codable` conformance, the bulk copy of an array of numbers or a
/// byte buffer, the type's own ``WireCodable`` functions (for one value or an array of them), or the special form
/// of optionals and dictionaries.
///
/// Finding out takes dynamic casts against conditional conformances, which cost more than encoding a small struct,
/// so the answer is worked out once per type and cached.
enum WirePath: UInt8, Sendable {
    case conformance
    case bulk
    case special
    case native
    case nativeArray

    private static let encodingRoutes = Mutex<[ObjectIdentifier: WireRoute]>([:])
    private static let decodingRoutes = Mutex<[ObjectIdentifier: WireRoute]>([:])

    static func forEncoding<T: Encodable>(_ type: T.Type) -> WireRoute {
        route(of: type, cache: encodingRoutes) {
            if type is any WireBulkEncodable.Type { .bulk }
            else if type is any WireNativeEncodable.Type { .nativeArray }
            else if type is any WireSpecialEncodable.Type { .special }
            else { .conformance }
        }
    }

    static func forDecoding<T: Decodable>(_ type: T.Type) -> WireRoute {
        route(of: type, cache: decodingRoutes) {
            if type is any WireBulkDecodable.Type { .bulk }
            else if type is any WireNativeDecodable.Type { .nativeArray }
            else if type is any WireSpecialDecodable.Type { .special }
            else { .conformance }
        }
    }

    /// The cached route of `type`, worked out the first time: its own ``WireCodable`` functions when it has them
    /// (unless `otherPath` finds a bulk or native-array path first), else `otherPath`'s answer.
    private static func route<T>(
        of type: T.Type,
        cache: borrowing Mutex<[ObjectIdentifier: WireRoute]>,
        otherPath: () -> WirePath
    ) -> WireRoute {
        let key = ObjectIdentifier(type)
        if let known = cache.withLock({ $0[key] }) { return known }
        let native = type as? any WireCodable.Type
        var path = otherPath()
        if native != nil, path != .bulk, path != .nativeArray { path = .native }
        let route = WireRoute(path: path, native: native)
        cache.withLock { $0[key] = route }
        return route
    }
}

/// A type's path, and the type as a ``WireCodable`` type when it is one: casting to reach its functions costs a
/// conformance lookup each time, as much as encoding a small value, so the cast is made once and kept.
struct WireRoute: @unchecked Sendable {
    // Sendable by contract: a metatype is immutable.
    var path: WirePath
    var native: (any WireCodable.Type)?

    static let conformance = WireRoute(path: .conformance, native: nil)
}

/// How values of one type are encoded, worked out once (see ``WireEncoder/encode(_:plan:appendingTo:borrowingFrom:)``)
/// for a caller that encodes many values of the type one at a time, such as a pool submitting jobs of one type.
///
/// It keeps the type's path, which the encoder otherwise finds in a table shared by every thread, under its lock,
/// for every value; and a spare sink with the keyed containers of the last encoding, so that a `Codable` value's
/// encoding allocates no sink, no container box and no cache of them. One thread at a time takes the spare; a
/// thread that finds it taken makes a sink of its own.
package final class WireEncodingPlan: Sendable {
    let route: WireRoute
    private let spare = SpareSlot<WireSink>()

    /// The plan for values of `type`.
    package init<T: Encodable>(for type: T.Type) {
        route = WirePath.forEncoding(type)
    }

    deinit {
        if let sink = spare.take() { Self.discard(sink) }
    }

    /// The spare sink, or a new one when another thread holds it; hand it back with ``giveBack(_:)``.
    func takeSink() -> WireSink {
        spare.take() ?? WireSink(bytes: [])
    }

    /// Keeps `sink` as the spare, cleared of its encoding's out-of-line arrays, unless another one is kept already.
    func giveBack(_ sink: WireSink) {
        sink.outOfLine = WireOutOfLine()
        if !spare.keep(sink) { Self.discard(sink) }
    }

    /// Lets go of a sink that is not kept: its containers refer back to it, so they go first.
    private static func discard(_ sink: WireSink) {
        sink.containers.removeAll()
    }
}
