// A keyed `Codable` container from its box, without asking the Swift runtime for the container type's metadata.
//
// Swift declares each function as `func f<Key: CodingKey>(_ box: UnsafeMutableRawPointer) ->
// KeyedEncodingContainer<Key>` (or `KeyedDecodingContainer<Key>`). Under the Swift calling convention that is: the
// address to return the container at, the box (a pointer to an object the caller keeps alive), then the generic
// argument `Key`'s metadata and its `CodingKey` witness table, which these functions do not need. The container is
// returned owned, so the box is retained once.
//
// The caller keeps a box here only after it checked that the container type is one reference in size, and took the
// box from such a container: the container's bytes are then the box's reference, which is all that is written.

extern void *swift_retain(void *object);

__attribute__((swiftcall)) void triad_wire_keyed_encoding_container(
    __attribute__((swift_indirect_result)) void **container, void *box, const void *key_type,
    const void *key_coding_key) {
    (void)key_type;
    (void)key_coding_key;
    *container = swift_retain(box);
}

// The decoding side's container has the same layout, and the function the same signature: one body serves both.
__attribute__((swiftcall)) void triad_wire_keyed_decoding_container(
    __attribute__((swift_indirect_result)) void **container, void *box, const void *key_type,
    const void *key_coding_key) __attribute__((alias("triad_wire_keyed_encoding_container")));
