import Glibc
import Testing

@testable import TriadProcesses

@Suite("Owned descriptors")
struct OwnedDescriptorTests {
    /// A pipe, the write end to hand to an owner: the read end sees the end of the stream once every copy of the
    /// write end is closed, which no other thread's reuse of the number can fake. Both ends are close-on-exec from
    /// the start, so no process that other tests spawn meanwhile holds a copy.
    private static func pipeEnds() -> (read: Int32, write: Int32) {
        // swiftlint:disable:next force_try
        let ends = try! Syscall.pipe().get()
        // A read of an open, empty pipe says EAGAIN instead of waiting.
        _ = fcntl(ends.read, F_SETFL, fcntl(ends.read, F_GETFL) | O_NONBLOCK)
        return ends
    }

    /// Whether the pipe's write end has been closed: its read end reports the end of the stream.
    private static func writerClosed(_ read: Int32) -> Bool {
        var byte: UInt8 = 0
        return Glibc.read(read, &byte, 1) == 0
    }

    @Test("a descriptor closes when its owner ends; a released one stays open; close closes at once")
    func ownership() {
        let dropped = Self.pipeEnds()
        do { _ = OwnedDescriptor(dropped.write) }
        #expect(Self.writerClosed(dropped.read))
        close(dropped.read)

        let handedOn = Self.pipeEnds()
        do {
            let owner = OwnedDescriptor(handedOn.write)
            #expect(owner.release() == handedOn.write)
        }
        #expect(!Self.writerClosed(handedOn.read))
        close(handedOn.write)
        #expect(Self.writerClosed(handedOn.read))
        close(handedOn.read)

        let closed = Self.pipeEnds()
        let owner = OwnedDescriptor(closed.write)
        owner.close()
        #expect(Self.writerClosed(closed.read))
        close(closed.read)

        // No descriptor: nothing to close, and nothing else is closed by mistake.
        let bystander = Self.pipeEnds()
        do { _ = OwnedDescriptor(-1) }
        #expect(!Self.writerClosed(bystander.read))
        close(bystander.write)
        close(bystander.read)
    }
}
