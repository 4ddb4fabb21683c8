/// The keyed containers of one encoding or decoding, kept by their key type so that each struct after the first of
/// its type gets its container without an allocation or a look-up of generic metadata.
///
/// `Encoder.container(keyedBy:)` must return a `KeyedEncodingContainer<Key>`, whose initializer boxes the container
/// on the heap and asks the runtime for the metadata of the box and of the container, for every struct encoded:
/// profiles of a 200k-struct array put half of `Codable`'s cost there. Triad's containers hold nothing but the sink
/// or source they write to or read from, so one box per key type serves every struct of that type in the encoding,
/// nested ones too. A `KeyedEncodingContainer` is a single reference to its box, so the cache keeps that reference
/// (a layout that differs is simply not cached) and hands it back as the container through
/// `triad_wire_keyed_encoding_container` (see ``cachedEncodingContainer(_:)``).
///
/// The boxes refer back to their sink or source, so the owner empties the cache when its encoding ends
/// (``removeAll()``), which breaks that cycle.
struct WireContainerCache {
    private var keys: [ObjectIdentifier] = []
    /// The boxes, each retained once by the cache and released by ``removeAll()``: kept unmanaged, so that handing
    /// one out retains it once, for the container, rather than also for the look-up.
    private var boxes: [Unmanaged<AnyObject>] = []

    /// The most key types kept; a type beyond them gets a fresh container each time, as without the cache.
    private static let capacity = 16

    /// The box of the container kept for `Key`, if any, for ``cachedEncodingContainer(_:)`` or
    /// ``cachedDecodingContainer(_:)``. The caller builds a container only when there is none, in a function of its
    /// own that the compiler does not inline: code that may build a `KeyedEncodingContainer<Key>` looks up its
    /// metadata where it starts, whichever way it goes.
    @inline(__always)
    func box<Key: CodingKey>(for _: Key.Type) -> UnsafeMutableRawPointer? {
        guard let index = keys.firstIndex(of: ObjectIdentifier(Key.self)) else { return nil }
        return boxes[index].toOpaque()
    }

    /// Keeps `container`'s box for `Key` if it is a single reference and there is room, and returns `container`.
    /// This is where the container's layout is checked, once per key type, so that
    /// ``cachedEncodingContainer(_:)`` and ``cachedDecodingContainer(_:)`` may rebuild it from the box alone.
    ///
    /// - Precondition: `Container` is `KeyedEncodingContainer<Key>` or `KeyedDecodingContainer<Key>`.
    mutating func keep<Key: CodingKey, Container>(_ container: Container, for _: Key.Type) -> Container {
        if MemoryLayout<Container>.size == MemoryLayout<AnyObject>.size, keys.count < Self.capacity {
            keys.append(ObjectIdentifier(Key.self))
            boxes.append(Unmanaged.passRetained(unsafeBitCast(container, to: AnyObject.self)))
        }
        return container
    }

    /// Lets go of every container.
    mutating func removeAll() {
        for box in boxes { box.release() }
        keys.removeAll()
        boxes.removeAll()
    }
}

/// The `KeyedEncodingContainer<Key>` whose box is `box`: a C function that stores the box, retained, where the
/// container is returned (`CTriadWire`). Swift code that returns a container of the generic `Key` must ask the
/// runtime for the container type's metadata on every call, since the standard library's types are resilient and
/// only the runtime knows their layout: a hashed look-up that profiles of a plain `Codable` map put at a fifth of the
/// parent's time and a third of the workers'. The cache has checked the layout, a single reference, when it kept the
/// box, so the container's bytes are the box's reference and need no metadata to write.
///
/// - Precondition: `box` is the box of a `KeyedEncodingContainer<Key>` that ``WireContainerCache`` keeps.
@_silgen_name("triad_wire_keyed_encoding_container")
func cachedEncodingContainer<Key: CodingKey>(_ box: UnsafeMutableRawPointer) -> KeyedEncodingContainer<Key>

/// The `KeyedDecodingContainer<Key>` whose box is `box`, as ``cachedEncodingContainer(_:)`` does for encoding.
///
/// - Precondition: `box` is the box of a `KeyedDecodingContainer<Key>` that ``WireContainerCache`` keeps.
@_silgen_name("triad_wire_keyed_decoding_container")
func cachedDecodingContainer<Key: CodingKey>(_ box: UnsafeMutableRawPointer) -> KeyedDecodingContainer<Key>
