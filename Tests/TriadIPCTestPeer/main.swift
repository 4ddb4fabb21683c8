// The other process in the IPC tests. The test spawns it with posix_spawn, passing pipe, queue and shared-memory
// descriptors by inheritance; the first argument names the role, the others are descriptor numbers and values.
import Glibc
import TriadCore
import TriadProcesses

func fail(_ message: String) -> Never {
    let line = Array("TriadIPCTestPeer: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

func descriptor(_ index: Int) -> IPCDescriptor {
    do {
        return try IPCDescriptor.inherited(number: CommandLine.arguments[index])
    } catch {
        fail("\(error)")
    }
}

func sleepForever() -> Never {
    while true { sleep(1000) }
}

func run() throws {
    let arguments = CommandLine.arguments
    guard arguments.count >= 2 else { fail("usage: TriadIPCTestPeer ROLE [ARGUMENTS]") }
    switch arguments[1] {
    case "pipe-echo":
        // Replies to each Int with the Int plus one, to raw bytes with the bytes reversed, until end of stream.
        let pipe = try Pipe(inheriting: descriptor(2))
        while true {
            do {
                if try pipe.poll(timeout: .seconds(600)) == false { fail("nothing arrived") }
                let value = try pipe.receive(Int.self)
                try pipe.send(value + 1)
            } catch {
                if error.code == .endOfStream { exit(0) }
                if error.code != .unexpectedMessage { throw error }
            }
        }
    case "pipe-bytes-echo":
        let pipe = try Pipe(inheriting: descriptor(2))
        while true {
            do {
                try pipe.send(bytes: pipe.receiveBytes().reversed())
            } catch {
                if error.code == .endOfStream { exit(0) }
                throw error
            }
        }
    case "pipe-write-then-exit":
        // Writes to a one-way or duplex pipe, then exits without closing it explicitly.
        let pipe = try Pipe(inheriting: descriptor(2))
        try pipe.send("goodbye")
        exit(0)
    case "pipe-write-garbage":
        let fd = descriptor(2).rawValue
        let garbage: [UInt8] = Array("this is not a Triad frame at all".utf8)
        _ = garbage.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        sleepForever()
    case "pipe-hang":
        let pipe = try Pipe(inheriting: descriptor(2))
        withExtendedLifetime(pipe) { sleepForever() }
    case "shared-array-double":
        // Receives a SharedArray<Double> segment over the pipe, doubles every element, replies with the sum.
        let pipe = try Pipe(inheriting: descriptor(2))
        let received = try pipe.receiveDescriptor(timeout: .seconds(600))
        let array = try SharedArray<Double>(openingIn: SharedMemory(adopting: received.descriptor))
        var sum = 0.0
        for index in array.indices {
            array[index] *= 2
            sum += array[index]
        }
        try pipe.send(sum)
        _ = try? pipe.receive(Int.self)
    case "shared-array-named":
        // Opens a named SharedArray<Double>, adds one to every element, replies with the count.
        let pipe = try Pipe(inheriting: descriptor(2))
        let array = try SharedArray<Double>(openingIn: SharedMemory.open(name: arguments[3]))
        array.withUnsafeMutableBufferPointer { buffer in
            for index in buffer.indices { buffer[index] += 1 }
        }
        try pipe.send(array.count)
    case "shared-named-owner":
        // Creates a named segment, reports its name and waits to be killed.
        let pipe = try Pipe(inheriting: descriptor(2))
        let memory = try SharedMemory.named(count: 4096)
        try pipe.send(memory.name!)
        sleepForever()
    case "payload-roundtrip":
        // The writer's protocol: a descriptor frame precedes the first reference into each new segment.
        let pipe = try Pipe(inheriting: descriptor(2))
        let reader = SharedPayloadReader()
        let writer = SharedPayloadWriter()
        while true {
            let tag: UInt8
            do {
                tag = try pipe.receive(UInt8.self)
            } catch {
                if error.code == .endOfStream { exit(0) }
                throw error
            }
            if tag == 1 {
                let received = try pipe.receiveDescriptor()
                try reader.adopt(received.descriptor, segment: received.tag)
                continue
            }
            let reference = try pipe.receive(SharedPayloadReference.self)
            let values = try reader.read([Double].self, at: reference)
            writer.reset()
            let (back, newSegment) = try writer.write(values.map { $0 + 1 })
            if let newSegment {
                try pipe.send(UInt8(1))
                try pipe.send(descriptor: newSegment.memory.descriptor, tag: newSegment.id)
            }
            try pipe.send(UInt8(2))
            try pipe.send(back)
        }
    case "payload-pipe-echo":
        // Receives [Double] payloads and sends each back plus one, inline or through shared memory.
        let pipe = try Pipe(inheriting: descriptor(2))
        let reader = SharedPayloadReader()
        let writer = SharedPayloadWriter()
        while true {
            let values: [Double]
            do {
                values = try pipe.receivePayload([Double].self, using: reader)
            } catch {
                if error.code == .endOfStream { exit(0) }
                throw error
            }
            writer.reset()
            try pipe.send(payload: values.map { $0 + 1 }, using: writer)
        }
    case "queue-consume-ack":
        // Receives N values, acknowledging each, and reports them over the pipe.
        let queue = try ProcessQueue<Int>(inheriting: descriptor(2))
        let pipe = try Pipe(inheriting: descriptor(3))
        for _ in 0..<Int(arguments[4])! {
            let delivery = try queue.receive(timeout: .seconds(600))
            try delivery.acknowledge()
            try pipe.send([delivery.value, delivery.deliveryCount])
        }
    case "queue-consume-report":
        // Handles values until the queue is closed: reports each (value, delivery count) to a report queue, then
        // acknowledges it, with a short pause between the two so that a kill often lands there.
        let queue = try ProcessQueue<Int>(inheriting: descriptor(2))
        let reports = try ProcessQueue<[Int]>(inheriting: descriptor(3))
        while true {
            let delivery: ProcessQueue<Int>.Delivery
            do {
                delivery = try queue.receive(timeout: .seconds(600))
            } catch {
                if error.code == .closed { exit(0) }
                throw error
            }
            try reports.put([delivery.value, delivery.deliveryCount], timeout: .seconds(600))
            usleep(UInt32.random(in: 200...2000))
            try delivery.acknowledge()
        }
    case "queue-consume-hold":
        // Receives one value, reports it, and waits without acknowledging it, to be killed.
        let queue = try ProcessQueue<Int>(inheriting: descriptor(2))
        let pipe = try Pipe(inheriting: descriptor(3))
        let delivery = try queue.receive(timeout: .seconds(600))
        try pipe.send(delivery.value)
        withExtendedLifetime(delivery) { sleepForever() }
    case "queue-get-block":
        // Tells the test it is about to block, then blocks in get on an empty queue.
        let queue = try ProcessQueue<Int>(inheriting: descriptor(2))
        let pipe = try Pipe(inheriting: descriptor(3))
        try pipe.send(0)
        let value = try queue.get()
        try pipe.send(value)
    case "queue-put-block":
        // Tells the test it is about to block, then blocks in put on a full queue.
        let queue = try ProcessQueue<Int>(inheriting: descriptor(2))
        let pipe = try Pipe(inheriting: descriptor(3))
        try pipe.send(0)
        try queue.put(Int(arguments[4])!)
        try pipe.send(1)
    case "queue-die-holding-lock":
        let queue = try ProcessQueue<Int>(inheriting: descriptor(2))
        try queue.withLockHeldForTesting { kill(getpid(), SIGKILL) }
    case "queue-produce":
        let queue = try ProcessQueue<Int>(inheriting: descriptor(2))
        let start = Int(arguments[3])!
        for value in start..<start + Int(arguments[4])! {
            try queue.put(value, timeout: .seconds(600))
        }
    case "queue-put-bytes":
        // Puts a value of another type, which an Int queue cannot decode.
        let queue = try ProcessQueue<UInt8>(inheriting: descriptor(2))
        try queue.put(7)
    case "queue-named-produce":
        let queue = try ProcessQueue<Int>(name: arguments[2])
        try queue.put(Int(arguments[3])!)
    case "queue-ping-pong":
        // Gets from the first queue and puts the value plus one into the second, N times.
        let requests = try ProcessQueue<Int>(inheriting: descriptor(2))
        let replies = try ProcessQueue<Int>(inheriting: descriptor(3))
        for _ in 0..<Int(arguments[4])! {
            try replies.put(requests.get(timeout: .seconds(600)) + 1)
        }
    default:
        fail("unknown role \(arguments[1])")
    }
}

do {
    try run()
} catch {
    fail("\(error)")
}
