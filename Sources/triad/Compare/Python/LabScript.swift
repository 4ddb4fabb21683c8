import Foundation

/// The Python side of the lab: the same workloads and experiments on `threading`, `ThreadPoolExecutor`,
/// `multiprocessing`, `ProcessPoolExecutor` and `asyncio`, in Python's standard library alone. `triad compare` writes
/// it to a temporary folder and runs it once per measurement; `triad compare --python-script` prints it.
enum LabScript {
    /// Writes the script into `folder` and returns its path.
    static func write(into folder: String) throws -> String {
        let path = "\(folder)/triad_lab.py"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The script's text.
    static let source = #"""
"""The Python side of `triad compare`: the lab's workloads on Python's three models, standard library only.

`triad compare` writes this file to a temporary folder and runs it once per measurement, with the Python it was
given, so that Swift and Python samples alternate in one run:

    python3 triad_lab.py info                  # the interpreter: version, free-threaded build, GIL state
    python3 triad_lab.py run '<json spec>'     # one sample of one workload under one model
    python3 triad_lab.py experiment NAME       # one of the experiments behind claims 5 to 8

Each prints one JSON object on standard output and nothing else. Times are seconds, memory is bytes.
"""

import importlib
import json
import os
import resource
import sys
import sysconfig
import tempfile
import threading
import time


class Lazy:
    """A module imported on first use: each run imports only what its model needs, so that start-up stays short."""

    def __init__(self, name):
        self._name = name
        self._module = None

    def __getattr__(self, attribute):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


asyncio = Lazy("asyncio")
http_client = Lazy("http.client")
futures = Lazy("concurrent.futures")
multiprocessing = Lazy("multiprocessing")
shared_memory = Lazy("multiprocessing.shared_memory")


def ThreadPoolExecutor(*args, **kwargs):
    return futures.ThreadPoolExecutor(*args, **kwargs)


def ProcessPoolExecutor(*args, **kwargs):
    return futures.ProcessPoolExecutor(*args, **kwargs)


# --- measurement ------------------------------------------------------------------------------------------------

def reset_peak_rss():
    """Resets this process's peak resident set, as `triad` does for itself; where refused, the peak is process-wide."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss(pid="self"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pool_peak_rss(pool):
    """The summed peaks of a ProcessPoolExecutor's workers, read while they are alive."""
    processes = getattr(pool, "_processes", None) or {}
    return sum(peak_rss(pid) for pid in list(processes))


def timed(body, *args):
    start = time.perf_counter_ns()
    value = body(*args)
    return value, time.perf_counter_ns() - start


# --- jobs (module level, so that worker processes can find them) ----------------------------------------------

def is_prime(n):
    if n < 2:
        return False
    if n < 4:
        return True
    if n % 2 == 0:
        return False
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True


def count_primes(bounds):
    lower, upper = bounds
    return timed(lambda: sum(1 for n in range(lower, upper) if is_prime(n)))


def blocking_io(args):
    index, latency, size, directory = args

    def body():
        time.sleep(latency)
        path = os.path.join(directory, f"job-{index}.bin")
        payload = bytes([index % 256]) * size
        with open(path, "wb") as f:
            f.write(payload)
        with open(path, "rb") as f:
            back = f.read()
        os.unlink(path)
        if back != payload:
            raise RuntimeError(f"{path} read back different bytes")
        return len(back)
    return timed(body)


def fetch(args):
    port, path = args

    def body():
        connection = http_client.HTTPConnection("127.0.0.1", port)
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        if response.status != 200:
            raise RuntimeError(f"the server answered {response.status} instead of 200")
        return len(data)
    return timed(body)


def tiny(value):
    return value * 2


def echo_bytes(data):
    return data


def echo_shared(args):
    name, size = args
    segment = shared_memory.SharedMemory(name=name)
    try:
        segment.buf[:size] = bytes(segment.buf[:size])
    finally:
        segment.close()
    return size


def return_one():
    return 1


# --- async versions of the jobs ---------------------------------------------------------------------------------

async def blocking_io_async(args):
    index, latency, size, directory = args
    start = time.perf_counter_ns()
    await asyncio.sleep(latency)
    # asyncio has no file API; small local files are written in place, as most asyncio programs do.
    path = os.path.join(directory, f"job-{index}.bin")
    payload = bytes([index % 256]) * size
    with open(path, "wb") as f:
        f.write(payload)
    with open(path, "rb") as f:
        back = f.read()
    os.unlink(path)
    if back != payload:
        raise RuntimeError(f"{path} read back different bytes")
    return len(back), time.perf_counter_ns() - start


async def fetch_async(args):
    port, path = args
    start = time.perf_counter_ns()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the server answered {head.splitlines()[0]!r} instead of 200")
    return len(body), time.perf_counter_ns() - start


async def count_primes_async(bounds):
    return count_primes(bounds)


async def tiny_async(value):
    return tiny(value), 0


async def bounded_map(function, items, limit):
    """At most `limit` items in flight, results in order: a few runner tasks that each take the next item."""
    results = [None] * len(items)
    iterator = iter(enumerate(items))

    async def runner():
        for index, item in iterator:
            results[index] = await function(item)
    await asyncio.gather(*(runner() for _ in range(min(limit, max(1, len(items))))))
    return results


# --- running a workload -----------------------------------------------------------------------------------------

def pool_chunksize(count, workers):
    """Pool.map's own default, which ProcessPoolExecutor.map lacks (it sends one item per message)."""
    chunks, extra = divmod(count, workers * 4)
    return max(1, chunks + (1 if extra else 0))


def run_model(model, workers, job, async_job, items, chunked=False):
    """Runs `job` over `items` under `model`; returns (outputs, worker peak RSS or None)."""
    if model == "sequential":
        return [job(item) for item in items], None
    if model == "threads":
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(job, items)), None
    if model == "processes":
        pool = ProcessPoolExecutor(max_workers=workers)
        try:
            chunksize = pool_chunksize(len(items), workers) if chunked else 1
            outputs = list(pool.map(job, items, chunksize=chunksize))
            return outputs, pool_peak_rss(pool)
        finally:
            pool.shutdown(wait=True)
    if model == "async":
        return asyncio.run(bounded_map(async_job, items, workers)), None
    raise ValueError(f"unknown model {model}")


def run_workload(spec):
    workload, model, workers, params = spec["workload"], spec["model"], spec["workers"], spec["params"]
    directory = None
    if workload == "cpu":
        bound, chunks = int(params["upperBound"]), int(params["chunks"])
        step = (bound + chunks - 1) // chunks
        items = [(lower, min(lower + step, bound)) for lower in range(0, bound, step)]
        job, async_job = count_primes, count_primes_async
    elif workload == "io":
        directory = tempfile.mkdtemp(prefix="triad-lab-")
        items = [(i, params["latencySeconds"], int(params["bytes"]), directory) for i in range(int(params["jobs"]))]
        job, async_job = blocking_io, blocking_io_async
    elif workload == "http":
        items = [(int(params["port"]), f"/item/{i}") for i in range(int(params["jobs"]))]
        job, async_job = fetch, fetch_async
    elif workload == "tiny":
        items = list(range(int(params["jobs"])))
        job, async_job = tiny, tiny_async
    elif workload in ("data", "data-pipe"):
        return run_data(workload, model, workers, params)
    elif workload == "startup":
        return run_startup(model, workers)
    else:
        raise ValueError(f"unknown workload {workload}")

    reset_peak_rss()
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    if workload == "tiny":
        outputs, worker_peak = run_tiny(model, workers, items)
    else:
        outputs, worker_peak = run_model(model, workers, job, async_job, items)
    wall = time.perf_counter() - start
    cpu = cpu_seconds() - cpu_before
    if directory:
        os.rmdir(directory)
    return {
        "jobs": len(items),
        "wallSeconds": wall,
        "cpuSeconds": cpu,
        "peakRSSBytes": peak_rss() + (worker_peak or 0),
        "workerPeakRSSBytes": worker_peak,
        "busySeconds": sum(ns for _, ns in outputs) / 1e9,
        "checksum": sum(value for value, _ in outputs),
    }


def run_tiny(model, workers, items):
    # Tiny jobs go through map as a program would write it; their own time is nil, so no timing per job.
    if model == "sequential":
        return [(tiny(i), 0) for i in items], None
    if model == "threads":
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return [(v, 0) for v in pool.map(tiny, items)], None
    if model == "processes":
        pool = ProcessPoolExecutor(max_workers=workers)
        try:
            values = list(pool.map(tiny, items, chunksize=pool_chunksize(len(items), workers)))
            return [(v, 0) for v in values], pool_peak_rss(pool)
        finally:
            pool.shutdown(wait=True)
    return asyncio.run(bounded_map(tiny_async, items, workers)), None


def run_data(workload, model, workers, params):
    size, jobs = int(params["bytes"]), int(params["jobs"])
    payloads = [bytes([i % 256]) * size for i in range(jobs)]
    reset_peak_rss()
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    worker_peak = None
    outputs = []
    if model == "sequential":
        # The raw limits the pool is measured against: two copies, or a trip through a pipe and back.
        for payload in payloads:
            if workload == "data":
                outputs.append(bytes(bytearray(bytes(bytearray(payload)))))
            else:
                outputs.append(through_pipe(through_pipe(payload)))
    elif model == "threads":
        # A thread gets the buffer itself, not a copy: the reference for what a process pays to move it.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outputs = list(pool.map(echo_bytes, payloads))
    elif workload == "data-pipe":
        pool = ProcessPoolExecutor(max_workers=workers)
        try:
            outputs = list(pool.map(echo_bytes, payloads))
            worker_peak = pool_peak_rss(pool)
        finally:
            pool.shutdown(wait=True)
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        try:
            for payload in payloads:
                segment = shared_memory.SharedMemory(create=True, size=size)
                try:
                    segment.buf[:size] = payload
                    pool.submit(echo_shared, (segment.name, size)).result()
                    outputs.append(bytes(segment.buf[:size]))
                finally:
                    segment.close()
                    segment.unlink()
            worker_peak = pool_peak_rss(pool)
        finally:
            pool.shutdown(wait=True)
    wall = time.perf_counter() - start
    checksum = 0
    for data in outputs:
        checksum += len(data) + data[0] + data[len(data) // 2] + data[-1]
    return {
        "jobs": jobs,
        "wallSeconds": wall,
        "cpuSeconds": cpu_seconds() - cpu_before,
        "peakRSSBytes": peak_rss() + (worker_peak or 0),
        "workerPeakRSSBytes": worker_peak,
        "busySeconds": 0.0,
        "checksum": checksum,
    }


def through_pipe(data):
    read_end, write_end = os.pipe()
    received = []

    def reader():
        chunks = []
        while True:
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        received.append(b"".join(chunks))
    thread = threading.Thread(target=reader)
    thread.start()
    view = memoryview(data)
    while view:
        written = os.write(write_end, view)
        view = view[written:]
    os.close(write_end)
    thread.join()
    os.close(read_end)
    return received[0]


def run_startup(model, workers):
    """A pool's cost to its first result: create it, run one tiny job, shut it down."""
    reset_peak_rss()
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    worker_peak = None
    if model == "sequential":
        value = return_one()
    elif model == "threads":
        with ThreadPoolExecutor(max_workers=workers) as pool:
            value = pool.submit(return_one).result()
    elif model == "processes":
        pool = ProcessPoolExecutor(max_workers=workers)
        value = pool.submit(return_one).result()
        worker_peak = pool_peak_rss(pool)
        pool.shutdown(wait=True)
    else:
        async def one():
            return return_one()
        value = asyncio.run(one())
    wall = time.perf_counter() - start
    return {
        "jobs": 1,
        "wallSeconds": wall,
        "cpuSeconds": cpu_seconds() - cpu_before,
        "peakRSSBytes": peak_rss() + (worker_peak or 0),
        "workerPeakRSSBytes": worker_peak,
        "busySeconds": 0.0,
        "checksum": value,
    }


# --- experiments ------------------------------------------------------------------------------------------------

SHARED = {"value": 0}


def write_global(value):
    SHARED["value"] = value
    return SHARED["value"]


def experiment_async_threads():
    """Claim 5: the thread every task runs on, before and after each of its awaits."""
    seen = set()
    threads_before = threading.active_count()

    async def task(i):
        for _ in range(3):
            seen.add(threading.get_ident())
            await asyncio.sleep(0.001 * (i % 3))
        seen.add(threading.get_ident())

    async def main():
        await asyncio.gather(*(task(i) for i in range(200)))
        return threading.active_count()
    threads_during = asyncio.run(main())
    return {"tasks": 200, "distinctThreads": len(seen), "threadsBefore": threads_before,
            "threadsAfter": threads_during}


def experiment_process_memory():
    """Claim 6: a worker process's write to a global, then the same through shared memory."""
    SHARED["value"] = 0
    context = multiprocessing.get_context()
    with ProcessPoolExecutor(max_workers=1) as pool:
        child_saw = pool.submit(write_global, 42).result()
    plain_seen = SHARED["value"] == 42
    segment = shared_memory.SharedMemory(create=True, size=8)
    try:
        segment.buf[:8] = bytes(8)
        process = context.Process(target=write_shared_flag, args=(segment.name,))
        process.start()
        process.join()
        shared_seen = segment.buf[0] == 42
    finally:
        segment.close()
        segment.unlink()
    return {"childSawOwnWrite": child_saw == 42, "parentSawPlainWrite": plain_seen,
            "parentSawSharedMemoryWrite": shared_seen}


def write_shared_flag(name):
    segment = shared_memory.SharedMemory(name=name)
    segment.buf[0] = 42
    segment.close()


def experiment_shared_memory():
    """Claim 7: a write in one thread seen by another, and a write in one task seen by another task."""
    box = {"value": 0}
    written = threading.Event()

    def writer():
        box["value"] = 42
        written.set()
    seen_by_thread = []

    def reader():
        written.wait()
        seen_by_thread.append(box["value"])
    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    async def tasks():
        cell = {"value": 0}
        event = asyncio.Event()

        async def writer_task():
            cell["value"] = 42
            event.set()

        async def reader_task():
            await event.wait()
            return cell["value"]
        seen, _ = await asyncio.gather(reader_task(), writer_task())
        return seen
    seen_by_task = asyncio.run(tasks())
    return {"threadSawWrite": seen_by_thread == [42], "taskSawWrite": seen_by_task == 42}


EXPERIMENTS = {
    "async-threads": experiment_async_threads,
    "process-memory": experiment_process_memory,
    "shared-memory": experiment_shared_memory,
}


def info():
    gil_disabled_build = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    gil_check = getattr(sys, "_is_gil_enabled", None)
    try:
        import aiohttp  # noqa: F401  (only reported: the lab's HTTP rows use asyncio streams)
        has_aiohttp = True
    except ImportError:
        has_aiohttp = False
    return {
        "version": sys.version.split()[0],
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "freeThreaded": gil_disabled_build,
        "gilEnabled": gil_check() if gil_check else True,
        "aiohttp": has_aiohttp,
        "startMethod": multiprocessing.get_start_method(),
    }


def main(argv):
    if len(argv) >= 2 and argv[1] == "info":
        result = info()
    elif len(argv) >= 3 and argv[1] == "run":
        result = run_workload(json.loads(argv[2]))
    elif len(argv) >= 3 and argv[1] == "experiment":
        result = EXPERIMENTS[argv[2]]()
    else:
        print("usage: triad_lab.py info | run SPEC | experiment NAME", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
"""#
}
