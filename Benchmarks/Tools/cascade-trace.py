#!/usr/bin/env python3
"""Breaks down `cascade-bench --concurrency 1 --trace FILE` per hop.

Cancel experiment: for every step of the path (the caller's cancel handler, the hop onto the client's loop, the
CANCEL queued, written, the write returned, the next server decoding it, the handler task's cancel, the handler's own
cancellation handler), the time since the previous step, per hop, p50/p90/p99 in µs, and whether the step ran on
the same thread as the one before (a thread hop is a wake-up). Deadline experiment: per side and hop, when its
deadline timer was armed for and when it fired, relative to the caller's deadline instant, and which side's timer
cancelled each hop's handler first.

Sites (the object that recorded an event) are told apart by position in the cancel experiment, where one call at a
time runs down the chain in order: the n-th server that decodes a CANCEL is hop n's.
"""
import collections
import csv
import sys


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    index = min(len(values) - 1, max(0, int(len(values) * q + 0.999999) - 1))
    return values[index]


def main(path):
    events = [
        (r["point"], int(r["ns"]), int(r["site"]), int(r["thread"]), int(r["value"]))
        for r in csv.DictReader(open(path))
    ]
    segments = []
    for event in events:
        point, _, site, _, value = event
        if point == "benchmark" and site in (1, 2):
            segments.append({"kind": "cancel" if site == 1 else "deadline", "t0": value, "events": []})
        elif segments:
            segments[-1]["events"].append(event)

    def name(event):
        point, _, site, _, _ = event
        if point == "benchmark" and 101 <= site < 200:
            return None  # a handler started
        if point == "benchmark" and 201 <= site < 300:
            return "handler's onCancel"
        return point

    # Cancel: steps along the path, per hop; site → hop from positions.
    steps = collections.defaultdict(list)
    same_thread = collections.Counter()
    order = {}
    site_hop = {}
    for segment in segments:
        if segment["kind"] != "cancel":
            continue
        hop, previous, previous_thread = 0, segment["t0"], None
        for event in segment["events"]:
            step = name(event)
            if step is None or step in ("serverDeadlineArmed", "serverDeadlineFired", "clientDeadlineArmed", "clientDeadlineFired", "serverDeadlineQueued"):
                continue
            if step == "serverCancelFrame":
                hop += 1
            if step in ("serverCancelFrame", "clientCancelOnLoop", "cancelQueued", "handlerTaskCancel"):
                site_hop.setdefault((step, event[2]), hop)
            key = (hop, step)
            order.setdefault(key, len(order))
            steps[key].append((event[1] - previous) / 1000)
            if previous_thread is not None:
                same_thread[(key, event[3] == previous_thread)] += 1
            previous, previous_thread = event[1], event[3]
    print("## Cancel: time since the previous step (µs), one call at a time")
    print()
    print("| hop | step | n | p50 | p90 | p99 | same thread as the step before |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for key in sorted(steps, key=lambda k: order[k]):
        values = steps[key]
        if len(values) < 0.5 * max(len(v) for v in steps.values()):
            continue  # an occasional extra event (a write completing in two parts)
        same, other = same_thread[(key, True)], same_thread[(key, False)]
        print(f"| {key[0]} | {key[1]} | {len(values)} | {pct(values, .5):.1f} | {pct(values, .9):.1f} | {pct(values, .99):.1f} | {same}/{same + other} |")

    cumulative = collections.defaultdict(list)
    for segment in segments:
        for event in segment["events"]:
            if event[0] == "benchmark" and 201 <= event[2] < 300:
                cumulative[(segment["kind"], event[2] - 200)].append((event[1] - segment["t0"]) / 1000)
    print()
    print("## From the trigger to each hop's handler onCancel (µs)")
    print()
    print("| experiment | hop | p50 | p90 | p99 |")
    print("|---|---:|---:|---:|---:|")
    for key in sorted(cumulative):
        values = cumulative[key]
        print(f"| {key[0]} | {key[1]} | {pct(values, .5):.0f} | {pct(values, .9):.0f} | {pct(values, .99):.0f} |")

    # Deadline: timers per side and hop.
    server_hop = {site: hop for (step, site), hop in site_hop.items() if step in ("serverCancelFrame", "handlerTaskCancel")}
    client_hop = {site: hop for (step, site), hop in site_hop.items() if step == "clientCancelOnLoop"}
    armed = collections.defaultdict(list)
    fired = collections.defaultdict(list)
    late = collections.defaultdict(list)
    first_cause = collections.Counter()
    for segment in segments:
        if segment["kind"] != "deadline":
            continue
        t0 = segment["t0"]
        armed_at = {}
        cancelled = set()
        last_server_event = {}
        for point, ns, site, _, value in segment["events"]:
            if point in ("serverDeadlineFired", "serverCancelFrame"):
                last_server_event[site] = point
            if point == "clientDeadlineArmed" and site in client_hop:
                side = ("client of hop", client_hop[site])
                if abs(value - t0) < 10_000_000:
                    armed[side].append((value - t0) / 1000)
                    armed_at[side] = value
            elif point == "serverDeadlineArmed" and site in server_hop:
                side = ("server of hop", server_hop[site])
                if abs(value - t0) < 10_000_000:
                    armed[side].append((value - t0) / 1000)
                    armed_at[side] = value
            elif point in ("clientDeadlineFired", "serverDeadlineFired") and value > 0:
                side = ("client of hop", client_hop.get(site)) if point.startswith("client") else ("server of hop", server_hop.get(site))
                fired[side].append((ns - t0) / 1000)
                if side in armed_at:
                    late[side].append((ns - armed_at[side]) / 1000)
            elif point == "handlerTaskCancel" and site in server_hop:
                hop = server_hop[site]
                if hop not in cancelled:
                    cancelled.add(hop)
                    cause = "its server's timer" if last_server_event.get(site) == "serverDeadlineFired" else "a CANCEL from upstream"
                    first_cause[(hop, cause)] += 1
    print()
    print("## Deadline: each side's timer, from the caller's deadline instant (µs)")
    print()
    print("| side | armed for (p50) | fired p50 | p90 | p99 | fired after its instant p50 | p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for side in sorted(set(armed) | set(fired), key=lambda s: (s[1] if s[1] is not None else 99, s[0])):
        if side[1] is None:
            continue
        print(f"| {side[0]} {side[1]} | {pct(armed[side], .5):.0f} | {pct(fired[side], .5):.0f} | {pct(fired[side], .9):.0f} | {pct(fired[side], .99):.0f} | {pct(late[side], .5):.0f} | {pct(late[side], .99):.0f} |")
    print()
    print("What cancelled each hop's handler task first (hop: cause × calls):",
          ", ".join(f"{hop}: {cause} × {count}" for (hop, cause), count in sorted(first_cause.items())))

    # Deadline: what each hop's handler cancellation (its onCancel) waited behind on its own loop thread: CANCEL
    # writes (cancelWritten → cancelWriteReturned) begun after the hop's own deadline instant (its server timer's
    # armed-for; a write before it did not delay the cancellation, which was not yet due), and the hop's own timer.
    behind = collections.defaultdict(list)       # hop → writes before onCancel on the same thread
    behind_us = collections.defaultdict(list)    # hop → µs spent inside those writes
    own_timer = collections.defaultdict(list)    # hop → its server timer fired → onCancel (when that timer cancelled it)
    for segment in segments:
        if segment["kind"] != "deadline":
            continue
        t0 = segment["t0"]
        evs = sorted(segment["events"], key=lambda e: e[1])
        write_start = {}
        writes = []  # (thread, start, end)
        fired_at = {}
        seen_hops = set()
        due = {}  # hop → its own deadline instant
        for point, ns, site, thread, value in evs:
            if point == "serverDeadlineArmed" and site in server_hop and abs(value - t0) < 10_000_000:
                due[server_hop[site]] = value
            if ns < t0:
                continue
            if point == "cancelWritten":
                write_start[(site, thread)] = ns
            elif point == "cancelWriteReturned" and (site, thread) in write_start:
                writes.append((thread, write_start.pop((site, thread)), ns))
            elif point == "serverDeadlineFired" and value > 0 and site in server_hop:
                fired_at.setdefault(server_hop[site], (ns, thread))
            elif point == "benchmark" and 201 <= site < 300:
                hop = site - 200
                if hop in seen_hops:
                    continue
                seen_hops.add(hop)
                since = max(t0, due.get(hop, t0))
                before = [(s, e) for (t, s, e) in writes if t == thread and since <= s < ns]
                # A write still in progress on another site of this thread cannot precede: writes are synchronous.
                behind[hop].append(len(before))
                behind_us[hop].append(sum((min(e, ns) - s) / 1000 for s, e in before))
                if hop in fired_at and fired_at[hop][1] == thread:
                    own_timer[hop].append((ns - fired_at[hop][0]) / 1000)
    print()
    print("## Deadline: what each hop's handler cancellation waited behind on its loop thread (since the hop's own deadline instant)")
    print()
    print("| hop | calls | cancelled after ≥ 1 CANCEL write on its thread begun after its own instant | writes before it, p50 / p99 | µs inside those writes, p50 / p90 / p99 | its server timer fired → onCancel, p50 / p90 / p99 µs (n) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for hop in sorted(behind):
        n = len(behind[hop])
        some = sum(1 for c in behind[hop] if c > 0)
        o = own_timer[hop]
        print(f"| {hop} | {n} | {some} | {pct(behind[hop], .5)} / {pct(behind[hop], .99)} | "
              f"{pct(behind_us[hop], .5):.1f} / {pct(behind_us[hop], .9):.1f} / {pct(behind_us[hop], .99):.1f} | "
              f"{pct(o, .5):.1f} / {pct(o, .9):.1f} / {pct(o, .99):.1f} ({len(o)}) |")


if __name__ == "__main__":
    main(sys.argv[1])
