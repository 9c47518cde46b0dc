#!/usr/bin/env python3
# Names the addresses in an mhist dump (Tools/mhist.c): `... 2> dump.txt; python3 Tools/mhist-resolve.py BINARY < dump.txt`.
# Uses the module map the dump prints, llvm-symbolizer and swift-demangle.
import sys, re, subprocess
lines = sys.stdin.read().splitlines()
mods = []
for l in lines:
    m = re.match(r'module (0x[0-9a-f]+|0) (.*)', l)
    if m: mods.append((int(m.group(1), 16), m.group(2)))
exe = sys.argv[1]
addrs = set(int(a, 16) for l in lines if not l.startswith('module') for a in re.findall(r'0x[0-9a-f]{8,}', l))
def module_of(a):
    best = None
    for base, name in mods:
        if base <= a and (best is None or base > best[0]): best = (base, name)
    return best
byobj = {}
for a in addrs:
    mo = module_of(a)
    if not mo: continue
    name = exe if mo[1] == '(main)' else mo[1]
    if name.startswith('linux-vdso'): continue
    byobj.setdefault(name, []).append((a, a - mo[0] - 1))
names = {}
for obj, items in byobj.items():
    inp = '\n'.join(hex(off) for _, off in items)
    out = subprocess.run(['llvm-symbolizer', '--obj=' + obj, '--functions=linkage', '--no-inlines'], input=inp, capture_output=True, text=True).stdout
    blocks = [b for b in out.strip().split('\n\n')]
    for (a, _), b in zip(items, blocks):
        fn = b.split('\n')[0]
        names[a] = fn
    syms = list(set(names[a] for a, _ in items))
    dem = subprocess.run(['swift-demangle', '--simplified', '--compact'], input='\n'.join(syms), capture_output=True, text=True).stdout.split('\n')
    dm = dict(zip(syms, dem))
    for a, _ in items: names[a] = dm.get(names[a], names[a])[:150]
for l in lines:
    if l.startswith('module'): continue
    if l.startswith('stack') or 'task-alloc' in l:
        head = l.split(':')[0] + ':' + l.split(':')[1] if l.startswith('stack') else l
        print(l.split(' 0x')[0] if l.startswith('stack') else l)
        for a in re.findall(r'0x[0-9a-f]{8,}', l):
            print('      ', names.get(int(a, 16), '?'))
    else:
        print(l)
