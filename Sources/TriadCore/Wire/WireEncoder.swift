#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Encodes `Codable` values into Triad's compact binary format, the format of every job, result and error that
/// crosses a process boundary.
///
/// The format is positional, like Rust's bincode: a struct is its fields in order, without keys, so it is small
/// and fast (arrays of numbers, `[UInt8]` and `Data` are copied in bulk). Synthesized `Codable` conformances
/// always work. A hand-written conformance must decode its keys in the order it encoded them, and must not rely
/// on `allKeys` or `contains` to find out which keys are present; use `encodeIfPresent` and `decodeIfPresent` for
/// optional fields. Dictionaries, sets and optionals of any `Codable` types work.
///
/// The encoder never runs code named by the bytes: a decoder builds only the type its caller names. That is the
/// contrast with Python's pickle.
public struct WireEncoder: Sendable {
    /// Makes an encoder.
    public init() {}

    /// Encodes a value.
    ///
    /// - Throws: ``WireError`` with ``WireError/Code/encodingFailed`` if the value's conformance throws.
    public func encode<T: Encodable>(_ value: T) throws(WireError) -> [UInt8] {
        var bytes: [UInt8] = []
        try encode(value, appendingTo: &bytes)
        return bytes
    }

    /// Encodes a value at the end of `bytes`, for callers that build a frame around it.
    ///
    /// - Throws: ``WireError`` with ``WireError/Code/encodingFailed`` if the value's conformance throws.
    public func encode<T: Encodable>(_ value: T, appendingTo bytes: inout [UInt8]) throws(WireError) {
        if try encodeNatively(value, route: WirePath.forEncoding(T.self), appendingTo: &bytes) { return }
        _ = try WireSink.encode(value, appendingTo: &bytes)
    }
}

extension WireEncoder {
    /// Encodes a value of a ``WireCodable`` type through its own functions, with no sink and no containers.
    /// Returns false, encoding nothing, for any other type. `route` is `T`'s.
    func encodeNatively<T: Encodable>(
        _ value: T,
        route: WireRoute,
        appendingTo bytes: inout [UInt8]
    ) throws(WireError) -> Bool {
        guard route.path == .native, let native = route.native else { return false }
        var writer = WireWriter()
        swap(&writer.bytes, &bytes)
        defer { swap(&writer.bytes, &bytes) }
        try native.wireEncode(opaque: value, to: &writer)
        return true
    }
}

extension WireSink {
    /// Encodes `value` at the end of `bytes` through a sink lent those bytes, which `prepare` may set up first, and
    /// returns the sink once the bytes are given back. An error the value's conformance throws becomes
    /// ``WireError/Code/encodingFailed``.
    static func encode<T: Encodable>(
        _ value: T,
        appendingTo bytes: inout [UInt8],
        prepare: (WireSink) -> Void = { _ in }
    ) throws(WireError) -> WireSink {
        let sink = WireSink(bytes: [])
        prepare(sink)
        defer { sink.containers.removeAll() }
        try sink.encode(value, appendingTo: &bytes)
        return sink
    }

    /// Encodes `value` at the end of `bytes`, lent to this sink for the call. The sink keeps its containers and
    /// its last type's path for a next encoding.
    func encode<T: Encodable>(_ value: T, appendingTo bytes: inout [UInt8]) throws(WireError) {
        swap(&bytes, &self.bytes)
        defer { swap(&bytes, &self.bytes) }
        do {
            try encodeValue(value)
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.encodingFailed, "encoding \(T.self) failed: \(error)")
        }
    }
}

/// The output buffer and the encoding of single values, shared by every container of one encoding.
final class WireSink {
    // Unchecked: only the thread that encodes touches a sink, and a dynamic exclusivity check on every byte
    // written costs more than writing it.
    @exclusivity(unchecked) var bytes: [UInt8]
    /// The keyed containers of this encoding, by key type.
    @exclusivity(unchecked) var containers = WireContainerCache()
    /// Where large arrays go instead of `bytes`, for an encoding that borrows them (see `WireOutOfLine`).
    var outOfLine = WireOutOfLine()
    // The last type encoded through `encodeValue` and its path: the elements of an array share one type, so this
    // spares most lookups in the shared cache.
    private var lastType: ObjectIdentifier?
    private var lastRoute = WireRoute.conformance

    init(bytes: [UInt8]) { self.bytes = bytes }

    @inline(__always)
    func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    @inline(__always)
    func write(_ value: Double) { write(value.bitPattern) }

    @inline(__always)
    func write(_ value: Float) { write(value.bitPattern) }

    func write(_ value: String) throws(WireError) {
        var value = value
        try writeLength(value.utf8.count)
        value.withUTF8 { bytes.append(contentsOf: $0) }
    }

    func writeLength(_ count: Int) throws(WireError) {
        guard count <= Int(UInt32.max) else {
            throw WireError(.encodingFailed, "a string or collection of \(count) elements is too long to encode")
        }
        write(UInt32(truncatingIfNeeded: count))
    }

    /// Reserves a 4-byte element count and returns its position, for containers that learn their size as they go.
    func reserveCount() -> Int {
        let position = bytes.count
        write(UInt32(0))
        return position
    }

    func incrementCount(at position: Int) {
        let current = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: UInt32.self) }
        let next = UInt32(littleEndian: current) + 1
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: next.littleEndian, toByteOffset: position, as: UInt32.self) }
    }

    /// A keyed container for `Key`, shared by every struct of this encoding that uses it.
    @inline(__always)
    func keyedContainer<Key: CodingKey>(keyedBy _: Key.Type) -> KeyedEncodingContainer<Key> {
        if let box = containers.box(for: Key.self) { return cachedEncodingContainer(box) }
        return newKeyedContainer(keyedBy: Key.self)
    }

    /// A keyed container for `Key`, built and kept (see `WireContainerCache.box(for:)`).
    @inline(never)
    private func newKeyedContainer<Key: CodingKey>(keyedBy _: Key.Type) -> KeyedEncodingContainer<Key> {
        containers.keep(KeyedEncodingContainer(WireKeyedEncoder<Key>(sink: self)), for: Key.self)
    }

    /// Encodes any value, taking the bulk and optional paths before falling back to its conformance.
    func encodeValue<T: Encodable>(_ value: T) throws {
        let type = ObjectIdentifier(T.self)
        if type != lastType {
            lastType = type
            lastRoute = WirePath.forEncoding(T.self)
        }
        switch lastRoute.path {
        case .conformance:
            try value.encode(to: WireEncoderImpl(sink: self))
        case .bulk:
            try (value as! any WireBulkEncodable).wireEncode(into: self)
        case .special:
            try (value as! any WireSpecialEncodable).wireEncode(into: self)
        case .native:
            try lastRoute.native!.wireEncode(opaque: value, into: self)
        case .nativeArray:
            try (value as! any WireNativeEncodable).wireEncodeNative(into: self)
        }
    }
}

struct WireEncoderImpl: Encoder {
    let sink: WireSink
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        sink.keyedContainer(keyedBy: type)
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        WireUnkeyedEncoder(sink: sink, countPosition: sink.reserveCount())
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        WireSingleEncoder(sink: sink)
    }
}

struct WireSingleEncoder: SingleValueEncodingContainer {
    let sink: WireSink
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil() throws { sink.bytes.append(0) }
    mutating func encode(_ value: Bool) throws { sink.write(value) }
    mutating func encode(_ value: String) throws { try sink.write(value) }
    mutating func encode(_ value: Double) throws { sink.write(value) }
    mutating func encode(_ value: Float) throws { sink.write(value) }
    mutating func encode(_ value: Int) throws { sink.write(value) }
    mutating func encode(_ value: Int8) throws { sink.write(value) }
    mutating func encode(_ value: Int16) throws { sink.write(value) }
    mutating func encode(_ value: Int32) throws { sink.write(value) }
    mutating func encode(_ value: Int64) throws { sink.write(value) }
    mutating func encode(_ value: UInt) throws { sink.write(value) }
    mutating func encode(_ value: UInt8) throws { sink.write(value) }
    mutating func encode(_ value: UInt16) throws { sink.write(value) }
    mutating func encode(_ value: UInt32) throws { sink.write(value) }
    mutating func encode(_ value: UInt64) throws { sink.write(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try sink.encodeValue(value) }
}

struct WireUnkeyedEncoder: UnkeyedEncodingContainer {
    let sink: WireSink
    let countPosition: Int
    var count = 0
    var codingPath: [any CodingKey] { [] }

    private mutating func added() {
        count += 1
        sink.incrementCount(at: countPosition)
    }

    mutating func encodeNil() throws { sink.bytes.append(0); added() }
    mutating func encode(_ value: Bool) throws { sink.write(value); added() }
    mutating func encode(_ value: String) throws { try sink.write(value); added() }
    mutating func encode(_ value: Double) throws { sink.write(value); added() }
    mutating func encode(_ value: Float) throws { sink.write(value); added() }
    mutating func encode(_ value: Int) throws { sink.write(value); added() }
    mutating func encode(_ value: Int8) throws { sink.write(value); added() }
    mutating func encode(_ value: Int16) throws { sink.write(value); added() }
    mutating func encode(_ value: Int32) throws { sink.write(value); added() }
    mutating func encode(_ value: Int64) throws { sink.write(value); added() }
    mutating func encode(_ value: UInt) throws { sink.write(value); added() }
    mutating func encode(_ value: UInt8) throws { sink.write(value); added() }
    mutating func encode(_ value: UInt16) throws { sink.write(value); added() }
    mutating func encode(_ value: UInt32) throws { sink.write(value); added() }
    mutating func encode(_ value: UInt64) throws { sink.write(value); added() }
    mutating func encode<T: Encodable>(_ value: T) throws { try sink.encodeValue(value); added() }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        added()
        return sink.keyedContainer(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        added()
        return WireUnkeyedEncoder(sink: sink, countPosition: sink.reserveCount())
    }

    mutating func superEncoder() -> any Encoder {
        added()
        return WireEncoderImpl(sink: sink)
    }
}

struct WireKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: WireSink
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws { sink.bytes.append(0) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { try sink.write(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { sink.write(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { sink.write(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try sink.encodeValue(value) }

    // Optional fields carry a presence byte, so that a positional decoder knows whether a value follows.
    private func present(_ value: (some Any)?) -> Bool {
        sink.bytes.append(value == nil ? 0 : 1)
        return value != nil
    }

    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        if present(value) { try sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws {
        if present(value) { sink.write(value!) }
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if present(value) { try sink.encodeValue(value!) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type,
        forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        sink.keyedContainer(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        WireUnkeyedEncoder(sink: sink, countPosition: sink.reserveCount())
    }

    mutating func superEncoder() -> any Encoder { WireEncoderImpl(sink: sink) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { WireEncoderImpl(sink: sink) }
}
