#!/usr/bin/env python
"""How long a short PostgreSQL transaction takes in one thread while other threads of the same process
compute, at several interpreter switch intervals (``sys.setswitchinterval``): the mechanism behind
the ``WEB_SWITCH_INTERVAL_US`` setting of the web processes.

A web process runs a live turn's database work (about ten round trips: lock the game, read it, record
the turn, save it, commit) on a thread while other threads render pages. Each round trip gives up the
interpreter lock while it waits for the server; getting it back waits until a computing thread
releases it, at the latest after the switch interval (5 ms by default) and possibly several times
over. The transaction here makes ``--round-trips`` round trips (``SELECT 1``) and a commit; the
computing threads run a pure-Python loop. Printed per interval: the transaction's median and p95 in
milliseconds, and the computing threads' throughput (blocks per second; what a shorter interval
costs them).

    .venv/bin/python bench/switch_interval.py --threads 0,2,4 --intervals-us 5000,1000,500,250
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="Any PostgreSQL database: only SELECT 1 is run.")
    parser.add_argument("--threads", default="0,2,4", help="Computing threads beside the transaction, comma-separated.")
    parser.add_argument("--intervals-us", default="5000,1000,500,250",
                        help="Switch intervals in microseconds, comma-separated.")
    parser.add_argument("--round-trips", type=int, default=10, help="Round trips per transaction.")
    parser.add_argument("--transactions", type=int, default=40, help="Transactions timed per setting.")
    parser.add_argument("--out", default=None, help="Also write the results as JSON here.")
    args = parser.parse_args(argv)
    try:
        args.thread_counts = [int(v) for v in args.threads.split(",")]
        args.intervals = [int(v) for v in args.intervals_us.split(",")]
    except ValueError:
        parser.error("--threads and --intervals-us take comma-separated integers")
    if any(v < 0 for v in args.thread_counts) or any(v <= 0 for v in args.intervals):
        parser.error("--threads must be >= 0 and --intervals-us > 0")
    if args.round_trips < 1 or args.transactions < 2:
        parser.error("--round-trips must be >= 1 and --transactions >= 2")
    return args


class Computing:
    """``count`` threads running a pure-Python loop until stopped; counts the blocks they finish."""

    def __init__(self, count: int):
        self.running = True
        self.blocks = 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def _run(self) -> None:
        while self.running:
            total = 0
            for i in range(10_000):
                total += i * i
            self.blocks += 1

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        time.sleep(0.2)  # all of them busy before timing starts
        return self

    def __exit__(self, *exc):
        self.running = False
        for thread in self.threads:
            thread.join()


def measure(conn, threads: int, interval_us: int, round_trips: int, transactions: int) -> dict:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(interval_us / 1_000_000)
    try:
        with Computing(threads) as computing:
            first_blocks, started = computing.blocks, time.perf_counter()
            times = []
            for _ in range(transactions):
                t0 = time.perf_counter()
                with conn.cursor() as cursor:
                    for _ in range(round_trips):
                        cursor.execute("SELECT 1")
                        cursor.fetchall()
                conn.commit()
                times.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.01)
            rate = (computing.blocks - first_blocks) / (time.perf_counter() - started)
    finally:
        sys.setswitchinterval(previous)
    times.sort()
    return {"threads": threads, "interval_us": interval_us, "median_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 2),
            "compute_blocks_per_second": round(rate) if threads else None}


def main(argv=None) -> int:
    args = parse_args(argv)
    import psycopg

    try:
        conn = psycopg.connect(args.database_url, connect_timeout=5)
    except psycopg.OperationalError as exc:
        print(f"switch_interval: cannot connect to {args.database_url}: {' '.join(str(exc).split())[:200]}",
              file=sys.stderr)
        return 2
    rows = []
    with conn:
        print(f"{'threads':>7} {'interval us':>11} {'median ms':>9} {'p95 ms':>8} {'compute/s':>9}")
        for threads in args.thread_counts:
            for interval in args.intervals:
                row = measure(conn, threads, interval, args.round_trips, args.transactions)
                rows.append(row)
                rate = row["compute_blocks_per_second"]
                print(f"{threads:>7} {interval:>11} {row['median_ms']:>9.1f} {row['p95_ms']:>8.1f} "
                      f"{'-' if rate is None else rate:>9}", flush=True)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"round_trips": args.round_trips, "transactions": args.transactions, "rows": rows}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
