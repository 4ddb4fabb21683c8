import Testing
import TriadCore

@testable import TriadThreads

/// The value-type state machines, driven directly, without threads.
@Suite("State machines")
struct StateMachineTests {
    @Test("QueueState keeps its bound, its order and its task count")
    func queueState() {
        var state = QueueState<Int>(order: .fifo, maxSize: 2)
        let puts = [state.put(1), state.put(2), state.put(3)]
        #expect(puts == [.done, .done, nil])
        #expect(state.isFull)
        guard case .item(1) = state.get() else { Issue.record("FIFO gave the wrong item"); return }
        #expect(state.unfinished == 2)
        let done = [state.taskDone(), state.taskDone(), state.taskDone()]
        #expect(done == [true, true, false])
        state.close()
        let late = state.put(4)
        #expect(late == .closed)
        guard case .item(2) = state.get() else { Issue.record("a closed queue kept its item"); return }
        guard case .closed = state.get() else { Issue.record("a closed, empty queue did not say so"); return }
    }

    @Test("QueueState in FIFO order survives many puts and gets")
    func queueStateCompaction() {
        var state = QueueState<Int>(order: .fifo, maxSize: nil)
        var next = 0
        var expected = 0
        for round in 0..<50 {
            for _ in 0..<(round % 7 + 3) {
                _ = state.put(next)
                next += 1
            }
            for _ in 0..<(round % 5 + 1) {
                guard case .item(let item) = state.get() else { continue }
                #expect(item == expected)
                expected += 1
            }
        }
        #expect(state.count == next - expected)
    }

    @Test("BarrierState fills, releases, breaks and resets")
    func barrierState() {
        var state = BarrierState(parties: 2)
        guard case .waiting(0, let generation)? = state.arrive() else { Issue.record("first arrival"); return }
        #expect(state.hasPassed(generation) == nil)
        guard case .last(1)? = state.arrive() else { Issue.record("last arrival"); return }
        let during = state.arrive()
        #expect(during == nil)  // the action is running
        let released = state.release()
        #expect(released)
        #expect(state.hasPassed(generation) == true)
        guard case .waiting(0, let second)? = state.arrive() else { Issue.record("second round"); return }
        state.breakBarrier("test")
        #expect(state.hasPassed(second) == false)
        guard case .broken? = state.arrive() else { Issue.record("arrival at a broken barrier"); return }
        state.reset()
        #expect(state.brokenReason == nil)
        #expect(state.hasPassed(second) == false)
    }

    @Test("TicketQueue notifies the oldest waiters first")
    func ticketQueue() {
        var tickets = TicketQueue()
        let first = tickets.enqueue()
        let second = tickets.enqueue()
        let third = tickets.enqueue()
        tickets.notify(2)
        let taken = [tickets.take(first) != nil, tickets.take(second) != nil, tickets.take(third) != nil]
        #expect(taken == [true, true, false])
        let notifiedLate = tickets.abandon(third)
        #expect(!notifiedLate)
        #expect(tickets.waitingCount == 0)
    }
}
