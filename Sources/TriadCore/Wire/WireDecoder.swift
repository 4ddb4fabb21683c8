/// Decodes values that ``WireEncoder`` encoded.
///
/// It builds only the type its caller names, and checks every length against the bytes it has, so bytes from a
/// peer that is broken or hostile end in a ``WireError``, never in a crash or a huge allocation.
public struct WireDecoder: Sendable {
    /// Makes a decoder.
    public init() {}

    /// Decodes a value of `type` from all of `bytes`.
    ///
    /// - Throws: ``WireError``: ``WireError/Code/truncated`` if the bytes end early,
    ///   ``WireError/Code/invalidValue`` for bytes that are not a valid encoding, ``WireError/Code/trailingBytes``
    ///   if bytes are left over, and ``WireError/Code/decodingFailed`` if the type's conformance throws.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(WireError) -> T {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(WireError) in try decode(type, from: raw) } }
        return try result.get()
    }

    /// Decodes a value of `type` from all of `bytes`, without copying them first.
    ///
    /// - Throws: The same errors as ``decode(_:from:)-(_,[UInt8])``.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws(WireError) -> T {
        let source = WireSource(bytes)
        defer { source.containers.removeAll() }
        let value: T
        do {
            value = try source.decodeValue(type)
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.decodingFailed, "decoding \(T.self) failed: \(error)")
        }
        guard source.offset == bytes.count else {
            throw WireError(
                .trailingBytes,
                "\(bytes.count - source.offset) bytes were left after decoding \(T.self); the sender encoded another type"
            )
        }
        return value
    }
}

/// The input bytes and the decoding of single values, shared by every container of one decoding.
final class WireSource {
    let bytes: UnsafeRawBufferPointer
    // Unchecked: only the thread that decodes touches a source; see `WireSink`.
    @exclusivity(unchecked) var offset = 0
    /// The keyed containers of this decoding, by key type.
    @exclusivity(unchecked) var containers = WireContainerCache()
    // The last type decoded through `decodeValue` and its path; see `WireSink`.
    private var lastType: ObjectIdentifier?
    private var lastRoute = WireRoute.conformance

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    @inline(__always)
    func need(_ count: Int, for what: @autoclosure () -> String) throws(WireError) {
        guard count <= remaining else {
            throw WireError(.truncated, "the bytes ended while reading \(what()): \(count) needed, \(remaining) left")
        }
    }

    @inline(__always)
    func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(WireError) -> T {
        try need(MemoryLayout<T>.size, for: "\(T.self)")
        defer { offset += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    func readBool() throws(WireError) -> Bool {
        switch try read(UInt8.self) {
        case 0: return false
        case 1: return true
        case let other: throw WireError(.invalidValue, "byte \(other) is not a Bool")
        }
    }

    func readDouble() throws(WireError) -> Double { Double(bitPattern: try read(UInt64.self)) }
    func readFloat() throws(WireError) -> Float { Float(bitPattern: try read(UInt32.self)) }

    /// Reads a length and checks that at least `count × minimumStride` bytes remain, so garbage cannot make the
    /// reader allocate more than the input holds.
    func readLength(minimumStride: Int) throws(WireError) -> Int {
        let count = Int(try read(UInt32.self))
        try need(count * minimumStride, for: "\(count) elements")
        return count
    }

    func readString() throws(WireError) -> String {
        let count = try readLength(minimumStride: 1)
        defer { offset += count }
        let utf8 = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        guard let string = String(validating: utf8.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw WireError(.invalidValue, "a string's \(count) bytes are not valid UTF-8")
        }
        return string
    }

    /// Whether the next byte is a nil tag; consumes it if so.
    func takeNil() -> Bool {
        guard remaining > 0, bytes[offset] == 0 else { return false }
        offset += 1
        return true
    }

    /// A keyed container for `Key`, shared by every struct of this decoding that uses it.
    @inline(__always)
    func keyedContainer<Key: CodingKey>(keyedBy _: Key.Type) -> KeyedDecodingContainer<Key> {
        if let box = containers.box(for: Key.self) { return cachedDecodingContainer(box) }
        return newKeyedContainer(keyedBy: Key.self)
    }

    /// A keyed container for `Key`, built and kept (see `WireContainerCache.box(for:)`).
    @inline(never)
    private func newKeyedContainer<Key: CodingKey>(keyedBy _: Key.Type) -> KeyedDecodingContainer<Key> {
        containers.keep(KeyedDecodingContainer(WireKeyedDecoder<Key>(source: self)), for: Key.self)
    }

    /// Decodes any value, taking the bulk and optional paths before falling back to its conformance.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        let identifier = ObjectIdentifier(T.self)
        if identifier != lastType {
            lastType = identifier
            lastRoute = WirePath.forDecoding(T.self)
        }
        switch lastRoute.path {
        case .conformance:
            return try T(from: WireDecoderImpl(source: self))
        case .bulk:
            return try (type as! any WireBulkDecodable.Type).wireDecode(from: self) as! T
        case .special:
            return try (type as! any WireSpecialDecodable.Type).wireDecode(from: self) as! T
        case .native:
            return try lastRoute.native!.wireDecode(opaque: T.self, from: self)
        case .nativeArray:
            return try (type as! any WireNativeDecodable.Type).wireDecodeNative(from: self) as! T
        }
    }
}

struct WireDecoderImpl: Decoder {
    let source: WireSource
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        source.keyedContainer(keyedBy: type)
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try WireUnkeyedDecoder(source: source)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        WireSingleDecoder(source: source)
    }
}

struct WireSingleDecoder: SingleValueDecodingContainer {
    let source: WireSource
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { source.takeNil() }
    func decode(_ type: Bool.Type) throws -> Bool { try source.readBool() }
    func decode(_ type: String.Type) throws -> String { try source.readString() }
    func decode(_ type: Double.Type) throws -> Double { try source.readDouble() }
    func decode(_ type: Float.Type) throws -> Float { try source.readFloat() }
    func decode(_ type: Int.Type) throws -> Int { try source.read() }
    func decode(_ type: Int8.Type) throws -> Int8 { try source.read() }
    func decode(_ type: Int16.Type) throws -> Int16 { try source.read() }
    func decode(_ type: Int32.Type) throws -> Int32 { try source.read() }
    func decode(_ type: Int64.Type) throws -> Int64 { try source.read() }
    func decode(_ type: UInt.Type) throws -> UInt { try source.read() }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try source.read() }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try source.read() }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try source.read() }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try source.read() }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try source.decodeValue(type) }
}

struct WireUnkeyedDecoder: UnkeyedDecodingContainer {
    let source: WireSource
    let count: Int?
    var currentIndex = 0
    var codingPath: [any CodingKey] { [] }
    var isAtEnd: Bool { currentIndex >= count! }

    init(source: WireSource) throws(WireError) {
        self.source = source
        self.count = try source.readLength(minimumStride: 0)
    }

    private mutating func next() throws(WireError) {
        guard !isAtEnd else {
            throw WireError(.invalidValue, "read past the end of a sequence of \(count!) elements")
        }
        currentIndex += 1
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, source.takeNil() else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(); return try source.readBool() }
    mutating func decode(_ type: String.Type) throws -> String { try next(); return try source.readString() }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(); return try source.readDouble() }
    mutating func decode(_ type: Float.Type) throws -> Float { try next(); return try source.readFloat() }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(); return try source.read() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(); return try source.read() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(); return try source.read() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(); return try source.read() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(); return try source.read() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(); return try source.read() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(); return try source.read() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(); return try source.read() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(); return try source.read() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(); return try source.read() }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(); return try source.decodeValue(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try next()
        return source.keyedContainer(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next()
        return try WireUnkeyedDecoder(source: source)
    }

    mutating func superDecoder() throws -> any Decoder {
        try next()
        return WireDecoderImpl(source: source)
    }
}

struct WireKeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let source: WireSource
    var codingPath: [any CodingKey] { [] }
    // The format is positional and carries no keys; see WireEncoder.
    var allKeys: [Key] { [] }

    func contains(_ key: Key) -> Bool { true }
    func decodeNil(forKey key: Key) throws -> Bool { source.takeNil() }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try source.readBool() }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try source.readString() }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try source.readDouble() }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try source.readFloat() }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try source.read() }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try source.read() }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try source.read() }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try source.read() }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try source.read() }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try source.read() }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try source.read() }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try source.read() }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try source.read() }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try source.read() }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try source.decodeValue(type) }

    // Optional fields carry a presence byte; see WireKeyedEncoder.
    private func present() throws(WireError) -> Bool { try source.readBool() }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        try present() ? try source.readBool() : nil
    }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try present() ? try source.readString() : nil
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        try present() ? try source.readDouble() : nil
    }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        try present() ? try source.readFloat() : nil
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        try present() ? try source.read() : nil
    }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? {
        try present() ? try source.read() : nil
    }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? {
        try present() ? try source.read() : nil
    }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? {
        try present() ? try source.read() : nil
    }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? {
        try present() ? try source.read() : nil
    }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? {
        try present() ? try source.read() : nil
    }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? {
        try present() ? try source.read() : nil
    }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? {
        try present() ? try source.read() : nil
    }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? {
        try present() ? try source.read() : nil
    }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? {
        try present() ? try source.read() : nil
    }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try present() ? try source.decodeValue(type) : nil
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type,
        forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        source.keyedContainer(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try WireUnkeyedDecoder(source: source)
    }

    func superDecoder() throws -> any Decoder { WireDecoderImpl(source: source) }
    func superDecoder(forKey key: Key) throws -> any Decoder { WireDecoderImpl(source: source) }
}
