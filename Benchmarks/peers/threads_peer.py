#!/usr/bin/env python3
"""Python peers of Triad's ThreadsBenchmarks, stdlib only: the same workloads, printed as medians.

Run: python3 Benchmarks/peers/threads_peer.py [--seconds N]
Each workload is measured in samples of a batch of operations; the median over samples of the time per operation
is printed, as ordo-one/benchmark reports medians for the Swift side.
"""

import argparse
import queue
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def sample(batch, run, seconds):
    """Runs `run(batch)` repeatedly for about `seconds`; returns the median nanoseconds per operation."""
    per_op = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(per_op) < 5:
        start = time.perf_counter_ns()
        run(batch)
        per_op.append((time.perf_counter_ns() - start) / batch)
    return statistics.median(per_op), len(per_op)


def thread_start_join(n):
    for _ in range(n):
        t = threading.Thread(target=lambda: 1)
        t.start()
        t.join()


def make_pool_submit(pool):
    def run(n):
        for _ in range(n):
            pool.submit(lambda: 1).result()
    return run


def make_pool_map(pool):
    def run(n):
        list(pool.map(lambda _: 1, range(n)))
    return run


def make_ping_pong():
    ping, pong = queue.Queue(), queue.Queue()

    def echo():
        while True:
            item = ping.get()
            if item is None:
                return
            pong.put(item)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()

    def run(n):
        for i in range(n):
            ping.put(i)
            pong.get()

    return run, lambda: ping.put(None)


def lock_uncontended(n):
    lock = threading.Lock()
    for _ in range(n):
        lock.acquire()
        lock.release()


def lock_contended(n):
    lock = threading.Lock()
    counter = [0]

    def worker():
        for _ in range(n):
            with lock:
                counter[0] += 1

    other = threading.Thread(target=worker)
    other.start()
    worker()
    other.join()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0, help="time spent on each workload")
    args = parser.parse_args()

    rows = []
    rows.append(("Thread start+join", *sample(1, thread_start_join, args.seconds)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        rows.append(("Pool submit+result", *sample(1000, make_pool_submit(pool), args.seconds)))
        rows.append(("Pool map of 1000 tiny calls, per call", *sample(1000, make_pool_map(pool), args.seconds)))
    ping_pong, stop = make_ping_pong()
    rows.append(("Queue ping-pong round trip", *sample(1000, ping_pong, args.seconds)))
    stop()
    rows.append(("Lock acquire+release, uncontended", *sample(1000, lock_uncontended, args.seconds)))
    rows.append(("Lock acquire+release, 2 threads contending", *sample(1000, lock_contended, args.seconds)))

    print(f"Python {'.'.join(map(str, __import__('sys').version_info[:3]))}, medians of per-operation time")
    print(f"{'workload':<46}{'median':>14}{'ops/s':>14}{'samples':>9}")
    for name, median_ns, count in rows:
        print(f"{name:<46}{median_ns / 1000:>11.2f} µs{1e9 / median_ns:>14,.0f}{count:>9}")


if __name__ == "__main__":
    main()
