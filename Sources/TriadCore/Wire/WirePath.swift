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

/// How values of one type are encoded, worked out once (see ``WireEncoder/encode(_:plan:appendingTo:borrowingFrom:)``):
/// the encoder otherwise finds a type's path in a table shared by every thread, under its lock, for every value.
package struct WireEncodingPlan: Sendable {
    let route: WireRoute

    /// The plan for values of `type`.
    package init<T: Encodable>(for type: T.Type) {
        route = WirePath.forEncoding(type)
    }
}
