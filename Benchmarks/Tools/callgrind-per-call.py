#!/usr/bin/env python3
"""Instructions per echo call from two callgrind runs of the same binary, a long one and a short one (the short one
measures start-up and shutdown, which the difference removes). Calls are counted exactly, as the calls callgrind
saw to the server's per-call entry point (`ServerConnectionHandler.handleCallStart`).

    callgrind-per-call.py LONG.out SHORT.out [LONG2.out SHORT2.out ...]      per-call self cost, by category and by function
    TOP=40 callgrind-per-call.py ...                                         more functions
    CALLERS=swift_beginAccess callgrind-per-call.py LONG.out SHORT.out       who calls a function, per echo call

See Tools/callgrind-sitting.sh for the runs."""
import collections, os, re, subprocess, sys

KEY = os.environ.get('KEY', 'handleCallStart')
CATEGORIES = [
    ('exclusivity checks', r'swift_beginAccess|swift_endAccess|AccessSet|__tls_get_addr|SwiftTLSContext'),
    ('retain/release', r'swift_retain|swift_release|swift_bridgeObject(Retain|Release)|swift_isUniquelyReferenced|swift_unknownObject'),
    ('malloc/free', r'malloc|free|calloc|swift_slowAlloc|swift_slowDealloc|swift_allocObject|swift_dealloc|unlink_chunk|realloc|_int_'),
    ('concurrency runtime', r'swift_task|swift::AsyncTask|StackAllocator|swift_job|swift_continuation|TaskLocal|swift::runJob|jobInvoke|dispatch|swift::TaskGroup|swift::Job|StatusRecord'),
    ('metadata, generics', r'Metadata|swift_getGeneric|swift_conformsToProtocol|swift_getWitnessTable|getCache|ConcurrentReadable|swift_checkMetadataState|swift_once'),
    ('locks', r'pthread_|lll_|futex|sem_'),
    ('hashing, dictionaries', r'Hasher|Dictionary|_hash|Hashable'),
]


def parse(path):
    """Self cost and call count per function (callgrind's compressed names resolved)."""
    names, self_cost, calls, callers = {}, collections.Counter(), collections.Counter(), collections.defaultdict(collections.Counter)
    current = callee = pending = None

    def name(text):
        m = re.match(r'\((\d+)\)(?: (.*))?', text)
        if not m:
            return text
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names[m.group(1)]

    for line in open(path):
        line = line.rstrip('\n')
        if line.startswith('fn='):
            current = name(line[3:])
        elif line.startswith('cfn='):
            callee = name(line[4:])
        elif line.startswith('calls='):
            pending = int(line[6:].split()[0])
        elif line and (line[0].isdigit() or line[0] in '+-*'):
            parts = line.split()
            if len(parts) >= 2:
                if pending is not None:
                    calls[callee] += pending
                    callers[callee][current] += pending
                    pending = None
                else:
                    self_cost[current] += int(parts[1])
    return self_cost, calls, callers


def demangle(symbols):
    out = subprocess.run(['swift', 'demangle', '--simplified', '--compact'], input='\n'.join(symbols),
                         capture_output=True, text=True).stdout.split('\n')
    return [(out[i] if i < len(out) and out[i] else s) for i, s in enumerate(symbols)]


def per_call(long_path, short_path):
    sl, cl, kl = parse(long_path)
    ss, cs, ks = parse(short_path)
    n = max(c for f, c in cl.items() if KEY in f) - max([c for f, c in cs.items() if KEY in f] or [0])
    keys = list(sl)
    readable = demangle(keys)
    by_function = collections.Counter()
    for k, r in zip(keys, readable):
        by_function[r[:150]] += (sl[k] - ss.get(k, 0)) / n
    total = (sum(sl.values()) - sum(ss.values())) / n
    callers = None
    if os.environ.get('CALLERS'):
        callers = collections.Counter()
        for callee, by in kl.items():
            if os.environ['CALLERS'] in callee:
                for caller, count in by.items():
                    callers[caller] += (count - ks.get(callee, {}).get(caller, 0)) / n
    return total, n, by_function, callers


def category(function):
    for label, pattern in CATEGORIES:
        if re.search(pattern, function):
            return label
    return 'everything else (NIO, DeadlineRPC, Wire, stdlib)'


runs = [per_call(sys.argv[i], sys.argv[i + 1]) for i in range(1, len(sys.argv) - 1, 2)]
for (total, n, _, _), path in zip(runs, sys.argv[1::2]):
    print(f'{path}: {n} calls, {total:,.0f} instructions per call')
print('\nby category (instructions per call):')
cats = [collections.Counter() for _ in runs]
for c, (_, _, by_function, _) in zip(cats, runs):
    for f, v in by_function.items():
        c[category(f)] += v
for label in sorted(set().union(*cats), key=lambda k: -cats[-1][k]):
    print(' '.join(f'{c[label]:9,.0f}' for c in cats), ' ', label)
print('\nby function, self cost (instructions per call):')
top = sorted(set().union(*[r[2] for r in runs]), key=lambda k: -max(abs(r[2].get(k, 0)) for r in runs))
for f in top[:int(os.environ.get('TOP', '25'))]:
    print(' '.join(f'{r[2].get(f, 0):9,.0f}' for r in runs), ' ', f)
if os.environ.get('CALLERS'):
    print(f"\ncallers of {os.environ['CALLERS']} (calls per echo call):")
    for r in runs:
        top = r[3].most_common(int(os.environ.get('TOP', '25')))
        for (k, v), d in zip(top, demangle([k for k, _ in top])):
            print(f'{v:7.2f}  {d[:150]}')
        print()
