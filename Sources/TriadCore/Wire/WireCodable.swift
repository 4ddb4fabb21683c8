/// A type that writes and reads its own wire form, field by field, instead of going through `Codable`'s
/// containers.
///
/// `Codable` costs about a hundred nanoseconds per struct in each direction: every container is a fresh heap box
/// found through generic metadata at run time. That is nothing beside a job that computes for a millisecond, and
/// most of the cost of a job that computes for a microsecond. A small job that is submitted by the hundred
/// thousand can conform to `WireCodable` as well, and the codec then takes its two functions instead, for the
/// value alone and inside arrays, optionals and other values, on both sides of the process boundary:
///
/// ```swift
/// struct Score: Job {
///     var player: Int
///     var points: Double
///
///     func run() async throws -> Double { points * 2 }
/// }
///
/// extension Score: WireCodable {      // in an extension, so Score keeps its memberwise init
///     func encode(to writer: inout WireWriter) {
///         writer.write(player)
///         writer.write(points)
///     }
///
///     init(from reader: inout WireReader) throws(WireError) {
///         player = try reader.read(Int.self)
///         points = try reader.read(Double.self)
///     }
/// }
/// ```
///
/// Read the fields in the order they were written. The writer's primitives produce the same bytes as the
/// positional `Codable` form, so writing every stored property in declaration order gives exactly the bytes the
/// synthesized conformance gives; the type keeps its `Codable` conformance for everything else (JSON, files).
/// Decoding stays safe on hostile bytes: every read checks its length and ends in a ``WireError``, never in a
/// crash.
public protocol WireCodable: Codable {
    /// Writes the value's fields, in order.
    ///
    /// - Throws: ``WireError`` when a nested value cannot be encoded (a collection too long for the format, or a
    ///   nested conformance that throws).
    func encode(to writer: inout WireWriter) throws(WireError)

    /// Reads the fields in the order ``encode(to:)`` wrote them.
    ///
    /// - Throws: ``WireError`` when the bytes end early or do not hold a valid value.
    init(from reader: inout WireReader) throws(WireError)

    /// Writes the elements of an array, one after another, with ``encode(to:)``.
    ///
    /// Triad's implementation is the only one a type should have: do not implement this. It is a requirement, not
    /// a helper, so that each type gets its own compiled copy of the loop, with direct calls to its functions
    /// instead of a generic loop that copies every element through run-time type information.
    static func _encodeArray(_ elements: [Self], to writer: inout WireWriter) throws(WireError)

    /// Reads `count` values written by ``_encodeArray(_:to:)``. Like ``_encodeArray(_:to:)``, Triad's own.
    ///
    /// - Throws: ``WireError`` when the bytes end early or do not hold valid values, or `count` is negative.
    static func _decodeArray(count: Int, from reader: inout WireReader) throws(WireError) -> [Self]
}

extension WireCodable {
    /// Triad's loop; see the requirement. Inlinable so that each conforming type's module compiles it for the type.
    @inlinable
    public static func _encodeArray(_ elements: [Self], to writer: inout WireWriter) throws(WireError) {
        for index in elements.indices { try elements[index].encode(to: &writer) }
    }

    /// Triad's loop; see the requirement. Inlinable so that each conforming type's module compiles it for the type.
    @inlinable
    public static func _decodeArray(count: Int, from reader: inout WireReader) throws(WireError) -> [Self] {
        guard count >= 0 else { throw WireError(.invalidValue, "an array cannot hold \(count) elements") }
        var elements: [Self] = []
        // An element may take no bytes at all; reserve no more than the input could hold, so a hostile count
        // cannot make a huge allocation.
        elements.reserveCapacity(Swift.min(count, reader.remainingCount))
        for _ in 0..<count { elements.append(try Self(from: &reader)) }
        return elements
    }
}

/// Where a ``WireCodable`` type writes its fields: an output buffer with the codec's primitives.
///
/// Integers and floating-point numbers are written little-endian at their full width, a `Bool` as one byte, a
/// `String` as its UTF-8 byte count (4 bytes) and bytes. Anything else `Encodable` goes through the codec's
/// general path, so arrays, optionals, dictionaries and nested ``WireCodable`` values all work.
public struct WireWriter {
    /// The bytes written so far.
    public internal(set) var bytes: [UInt8]

    /// Makes a writer that appends to `bytes`.
    public init(bytes: [UInt8] = []) { self.bytes = bytes }

    @inline(__always)
    mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Writes an `Int` as 8 bytes.
    public mutating func write(_ value: Int) { writeInteger(Int64(value)) }
    /// Writes an `Int8`.
    public mutating func write(_ value: Int8) { writeInteger(value) }
    /// Writes an `Int16`.
    public mutating func write(_ value: Int16) { writeInteger(value) }
    /// Writes an `Int32`.
    public mutating func write(_ value: Int32) { writeInteger(value) }
    /// Writes an `Int64`.
    public mutating func write(_ value: Int64) { writeInteger(value) }
    /// Writes a `UInt` as 8 bytes.
    public mutating func write(_ value: UInt) { writeInteger(UInt64(value)) }
    /// Writes a `UInt8`.
    public mutating func write(_ value: UInt8) { bytes.append(value) }
    /// Writes a `UInt16`.
    public mutating func write(_ value: UInt16) { writeInteger(value) }
    /// Writes a `UInt32`.
    public mutating func write(_ value: UInt32) { writeInteger(value) }
    /// Writes a `UInt64`.
    public mutating func write(_ value: UInt64) { writeInteger(value) }
    /// Writes a `Double` by its bit pattern.
    public mutating func write(_ value: Double) { writeInteger(value.bitPattern) }
    /// Writes a `Float` by its bit pattern.
    public mutating func write(_ value: Float) { writeInteger(value.bitPattern) }
    /// Writes a `Bool` as one byte.
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Writes a `String` as its UTF-8 byte count and bytes.
    ///
    /// - Throws: ``WireError/Code/encodingFailed`` for a string of 4 GiB or more.
    public mutating func write(_ value: String) throws(WireError) {
        var value = value
        let count = value.utf8.count
        guard count <= Int(UInt32.max) else {
            throw WireError(.encodingFailed, "a string of \(count) bytes is too long to encode")
        }
        writeInteger(UInt32(truncatingIfNeeded: count))
        value.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Writes any `Encodable` value through the codec's general path: arrays of numbers in bulk, optionals,
    /// dictionaries, nested ``WireCodable`` values, and other `Codable` types through their conformance.
    ///
    /// - Throws: ``WireError/Code/encodingFailed`` when the value's conformance throws.
    public mutating func write<T: Encodable>(_ value: T) throws(WireError) {
        _ = try WireSink.encode(value, appendingTo: &bytes)
    }
}

/// Where a ``WireCodable`` type reads its fields: the input bytes and a position, with the codec's primitives.
///
/// Every read checks that enough bytes remain, so broken or hostile input ends in a ``WireError``.
public struct WireReader {
    let source: WireSource

    init(source: WireSource) { self.source = source }

    /// How many bytes are left to read.
    public var remainingCount: Int { source.remaining }

    /// Reads an `Int` written as 8 bytes.
    ///
    /// - Throws: ``WireError/Code/truncated`` when fewer than 8 bytes remain, and
    ///   ``WireError/Code/invalidValue`` when the value does not fit in `Int`.
    public mutating func read(_: Int.Type) throws(WireError) -> Int {
        let value = try source.read(Int64.self)
        guard let int = Int(exactly: value) else {
            throw WireError(.invalidValue, "\(value) does not fit in Int")
        }
        return int
    }
    /// Reads an `Int8`. - Throws: ``WireError/Code/truncated`` when the bytes end.
    public mutating func read(_: Int8.Type) throws(WireError) -> Int8 { try source.read() }
    /// Reads an `Int16`. - Throws: ``WireError/Code/truncated`` when the bytes end.
    public mutating func read(_: Int16.Type) throws(WireError) -> Int16 { try source.read() }
    /// Reads an `Int32`. - Throws: ``WireError/Code/truncated`` when the bytes end.
    public mutating func read(_: Int32.Type) throws(WireError) -> Int32 { try source.read() }
    /// Reads an `Int64`. - Throws: ``WireError/Code/truncated`` when the bytes end.
    public mutating func read(_: Int64.Type) throws(WireError) -> Int64 { try source.read() }
    /// Reads a `UInt` written as 8 bytes.
    ///
    /// - Throws: ``WireError/Code/truncated`` when the bytes end, ``WireError/Code/invalidValue`` when the value
    ///   does not fit in `UInt`.
    public mutating func read(_: UInt.Type) throws(WireError) -> UInt {
        let value = try source.read(UInt64.self)
        guard let uint = UInt(exactly: value) else {
            throw WireError(.invalidValue, "\(value) does not fit in UInt")
        }
        return uint
    }
    /// Reads a `UInt8`. - Throws: ``WireError/Code/truncated`` when the bytes end.
    public mutating func read(_: UInt8.Type) throws(WireError) -> UInt8 { try source.read() }
    /// Reads a `UInt16`. - Throws: ``WireError/Code/truncated`` when the bytes end.
    public mutating func read(_: UInt16.Type) throws(WireError) -> UInt16 { try source.read() }
    /// Reads a `UInt32`. - Throws: ``WireError/Code/truncated`` when the bytes end.
    public mutating func read(_: UInt32.Type) throws(WireError) -> UInt32 { try source.read() }
    /// Reads a `UInt64`. - Throws: ``WireError/Code/truncated`` when the bytes end.
    public mutating func read(_: UInt64.Type) throws(WireError) -> UInt64 { try source.read() }
    /// Reads a `Double`. - Throws: ``WireError/Code/truncated`` when the bytes end.
    public mutating func read(_: Double.Type) throws(WireError) -> Double { try source.readDouble() }
    /// Reads a `Float`. - Throws: ``WireError/Code/truncated`` when the bytes end.
    public mutating func read(_: Float.Type) throws(WireError) -> Float { try source.readFloat() }
    /// Reads a `Bool`.
    ///
    /// - Throws: ``WireError/Code/truncated`` when the bytes end, ``WireError/Code/invalidValue`` for a byte
    ///   other than 0 or 1.
    public mutating func read(_: Bool.Type) throws(WireError) -> Bool { try source.readBool() }
    /// Reads a `String`.
    ///
    /// - Throws: ``WireError/Code/truncated`` when the bytes end, ``WireError/Code/invalidValue`` for bytes that
    ///   are not UTF-8.
    public mutating func read(_: String.Type) throws(WireError) -> String { try source.readString() }

    /// Reads any `Decodable` value written by ``WireWriter/write(_:)-(T)``.
    ///
    /// - Throws: ``WireError`` when the bytes end early, are invalid, or the type's conformance throws.
    public mutating func read<T: Decodable>(_ type: T.Type) throws(WireError) -> T {
        do {
            return try source.decodeValue(type)
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.decodingFailed, "decoding \(T.self) failed: \(error)")
        }
    }
}

// MARK: - The codec's native paths

/// The native path of one value, reached through a cast from the codec's generic paths.
protocol WireNativeEncodable {
    func wireEncodeNative(into sink: WireSink) throws(WireError)
}

/// The native path of one type, reached through a cast from the codec's generic paths.
protocol WireNativeDecodable {
    static func wireDecodeNative(from source: WireSource) throws(WireError) -> Self
}

extension WireSink {
    /// Lends the sink's bytes to a writer for `body`.
    func withWriter(_ body: (inout WireWriter) throws(WireError) -> Void) throws(WireError) {
        var writer = WireWriter()
        swap(&writer.bytes, &bytes)
        defer { swap(&writer.bytes, &bytes) }
        try body(&writer)
    }
}

extension WireCodable {
    func wireEncodeNative(into sink: WireSink) throws(WireError) {
        try sink.withWriter { (writer: inout WireWriter) throws(WireError) in try encode(to: &writer) }
    }

    /// Encodes `value`, whose type is `Self`, without a cast: the caller found `Self` through ``WirePath``.
    static func wireEncode<Value>(opaque value: Value, into sink: WireSink) throws(WireError) {
        try sink.withWriter { (writer: inout WireWriter) throws(WireError) in
            try wireEncode(opaque: value, to: &writer)
        }
    }

    /// Encodes `value`, whose type is `Self`, straight into `writer`.
    static func wireEncode<Value>(opaque value: Value, to writer: inout WireWriter) throws(WireError) {
        precondition(Value.self == Self.self, "wireEncode(opaque:) called with a value of another type")
        try withUnsafePointer(to: value) { pointer throws(WireError) in
            try UnsafeRawPointer(pointer).assumingMemoryBound(to: Self.self).pointee.encode(to: &writer)
        }
    }

    /// Decodes a `Self` and returns it as `Value`, which is `Self`, without a cast.
    static func wireDecode<Value>(opaque type: Value.Type, from source: WireSource) throws(WireError) -> Value {
        precondition(Value.self == Self.self, "wireDecode(opaque:) called for another type")
        var decoded = try wireDecodeNative(from: source)
        return withUnsafePointer(to: &decoded) { UnsafeRawPointer($0).assumingMemoryBound(to: Value.self).pointee }
    }

    static func wireDecodeNative(from source: WireSource) throws(WireError) -> Self {
        var reader = WireReader(source: source)
        return try Self(from: &reader)
    }
}

/// An array of ``WireCodable`` elements: a 4-byte count, then each element's fields, with no cast per element.
extension Array: WireNativeEncodable where Element: WireCodable {
    func wireEncodeNative(into sink: WireSink) throws(WireError) {
        try sink.writeLength(count)
        try sink.withWriter { (writer: inout WireWriter) throws(WireError) in
            try Element._encodeArray(self, to: &writer)
        }
    }
}

extension Array: WireNativeDecodable where Element: WireCodable {
    static func wireDecodeNative(from source: WireSource) throws(WireError) -> [Element] {
        let count = try source.readLength(minimumStride: 0)
        var reader = WireReader(source: source)
        return try Element._decodeArray(count: count, from: &reader)
    }
}
