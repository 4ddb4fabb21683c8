#!/usr/bin/env python3
"""Python peers of Triad's AsyncBenchmarks: the same workloads on asyncio (and aiohttp for HTTP).

Usage:
    python3 Benchmarks/peers/async_peer.py [--runs N] [--url http://127.0.0.1:PORT/]

Prints the median of N runs (default 5) for each workload. The HTTP row needs aiohttp:
    pip install aiohttp
and is skipped, with that hint, when aiohttp is missing. Without --url the HTTP row starts its own
20 ms latency server (plain asyncio, HTTP/1.1 keep-alive) in a child process on 127.0.0.1.
"""

import argparse
import asyncio
import gc
import multiprocessing
import statistics
import sys
import time
import tracemalloc


def median_of(runs, measure):
    return statistics.median(measure() for _ in range(runs))


# --- gather 100k trivial tasks -------------------------------------------------------------------

async def trivial(i):
    return i


async def gather_trivial(n):
    return await asyncio.gather(*(trivial(i) for i in range(n)))


def bench_gather(runs, n=100_000):
    def once():
        start = time.perf_counter()
        asyncio.run(gather_trivial(n))
        return time.perf_counter() - start
    seconds = median_of(runs, once)
    return f"gather {n // 1000}k trivial tasks: median {seconds * 1000:.1f} ms, {n / seconds / 1000:.0f}k tasks/s"


# --- 10k concurrent 10 ms sleeps -----------------------------------------------------------------

async def sleeps(n):
    await asyncio.gather(*(asyncio.sleep(0.010) for _ in range(n)))


def wall_and_peak(runs, program, n):
    """The median wall time of `asyncio.run(program(n))` over `runs` runs, and the tracemalloc peak of one more."""
    def once():
        start = time.perf_counter()
        asyncio.run(program(n))
        return time.perf_counter() - start
    seconds = median_of(runs, once)
    gc.collect()
    tracemalloc.start()
    asyncio.run(program(n))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak


def bench_sleeps(runs, n=10_000):
    seconds, peak = wall_and_peak(runs, sleeps, n)
    return (f"{n // 1000}k concurrent 10 ms sleeps: median {seconds * 1000:.1f} ms wall, "
            f"{peak / n / 1024:.2f} kB per task (tracemalloc peak)")


# --- 10k concurrent 10 ms waits on futures ------------------------------------------------------

async def future_waits(n):
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(n)]
    for future in futures:
        loop.call_later(0.010, future.set_result, None)
    await asyncio.gather(*futures)


def bench_future_waits(runs, n=10_000):
    seconds, peak = wall_and_peak(runs, future_waits, n)
    return (f"{n // 1000}k concurrent 10 ms waits on futures: median {seconds * 1000:.1f} ms wall, "
            f"{peak / n / 1024:.2f} kB per future (tracemalloc peak)")


# --- queue ping-pong -----------------------------------------------------------------------------

async def ping_pong(n):
    ping, pong = asyncio.Queue(), asyncio.Queue()

    async def echo():
        for _ in range(n):
            await pong.put(await ping.get())

    task = asyncio.create_task(echo())
    for i in range(n):
        await ping.put(i)
        await pong.get()
    await task


def bench_ping_pong(runs, n=100_000):
    def once():
        start = time.perf_counter()
        asyncio.run(ping_pong(n))
        return time.perf_counter() - start
    seconds = median_of(runs, once)
    return f"queue ping-pong {n // 1000}k round trips: median {seconds * 1000:.1f} ms, {n / seconds / 1000:.0f}k round trips/s"


# --- HTTP ----------------------------------------------------------------------------------------

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"


class DelayedHTTP(asyncio.Protocol):
    """Answers each request (ends at a blank line; no bodies) after 20 ms, keeping the connection open."""

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        loop = asyncio.get_running_loop()
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            loop.call_later(0.020, self.respond)

    def respond(self):
        if not self.transport.is_closing():
            self.transport.write(RESPONSE)


def serve(port_queue):
    async def main():
        server = await asyncio.get_running_loop().create_server(DelayedHTTP, "127.0.0.1", 0, backlog=1024)
        port_queue.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()
    asyncio.run(main())


async def fetch_all(session, url, total, concurrency):
    semaphore = asyncio.Semaphore(concurrency)

    async def fetch():
        async with semaphore:
            async with session.get(url) as response:
                await response.read()
                return response.status

    return await asyncio.gather(*(fetch() for _ in range(total)))


def bench_http(runs, url, total=2000, concurrency=200):
    try:
        import aiohttp
    except ImportError:
        return "HTTP: skipped, aiohttp is not installed (pip install aiohttp)"
    server = None
    if url is None:
        ports = multiprocessing.Queue()
        server = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
        server.start()
        url = f"http://127.0.0.1:{ports.get(timeout=10)}/"

    async def run_all():
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            await fetch_all(session, url, concurrency, concurrency)  # warm the pool, as the Swift side does
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                statuses = await fetch_all(session, url, total, concurrency)
                times.append(time.perf_counter() - start)
                assert all(status == 200 for status in statuses)
            return statistics.median(times)

    try:
        seconds = asyncio.run(run_all())
    finally:
        if server is not None:
            server.terminate()
    return (f"HTTP {total} requests at concurrency {concurrency}, 20 ms server: median {seconds * 1000:.1f} ms, "
            f"{total / seconds:.0f} req/s (aiohttp {aiohttp.__version__})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per workload; the median is printed")
    parser.add_argument("--url", help="an HTTP server answering after 20 ms; by default one is started")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, asyncio, {args.runs} runs each")
    print(bench_gather(args.runs))
    print(bench_sleeps(args.runs))
    print(bench_future_waits(args.runs))
    print(bench_ping_pong(args.runs))
    print(bench_http(args.runs, args.url))


if __name__ == "__main__":
    main()
