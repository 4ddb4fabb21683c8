import Glibc
import Testing

@testable import TriadProcesses

@Suite("Owned descriptors")
struct OwnedDescriptorTests {
    private static func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

    private static func newDescriptor() -> Int32 { open("/dev/null", O_RDONLY | O_CLOEXEC) }

    @Test("a descriptor closes when its owner ends, once; a released one stays open; close closes at once")
    func ownership() {
        let dropped = Self.newDescriptor()
        do { _ = OwnedDescriptor(dropped) }
        #expect(!Self.isOpen(dropped))

        let handedOn = Self.newDescriptor()
        do {
            let owner = OwnedDescriptor(handedOn)
            #expect(owner.release() == handedOn)
        }
        #expect(Self.isOpen(handedOn))
        close(handedOn)

        let closed = Self.newDescriptor()
        let owner = OwnedDescriptor(closed)
        owner.close()
        #expect(!Self.isOpen(closed))

        // No descriptor: nothing to close, and nothing else is closed by mistake.
        let bystander = Self.newDescriptor()
        do { _ = OwnedDescriptor(-1) }
        #expect(Self.isOpen(bystander))
        close(bystander)
    }
}
