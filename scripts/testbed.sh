#!/usr/bin/env bash
# A test bed by hand, laid out like the one the tests build (Sources/HostBed, docs/TESTBED.md): hosts
# as network namespaces on one bridge, dnsmasq for their names, processes with their clocks days ahead.
#
#   scripts/testbed.sh up [HOSTS]                 bridge mtbbr at 10.254.254.1/24; host N = namespace mtbhN at
#                                                 10.254.254.(N+1); dnsmasq in namespace mtbdns at 10.254.254.254
#   scripts/testbed.sh exec HOST [--days D] CMD…  run CMD inside host HOST, its monotonic and boot-time clocks D
#                                                 days ahead (a time namespace)
#   scripts/testbed.sh records NAME [ADDRESS…]    set NAME's A/AAAA records (none: remove it) and reload dnsmasq
#   scripts/testbed.sh status                     what exists, the records, dnsmasq's pid
#   scripts/testbed.sh down                       kill everything in the bed and remove it
#
# Root only. TESTBED_SUBNET=10.X.Y changes the /24. The names start with `mtb`, not the tests' `drb`, so a test
# run's sweep of crashed beds never touches this one. Names under .test are authoritative (unknown: NXDOMAIN).
set -euo pipefail

prefix=mtb
subnet="${TESTBED_SUBNET:-10.254.254}"
dir=/tmp/${prefix}-bed
bridge=${prefix}br
dns=${prefix}dns

namespaces() { ip netns list | awk '{print $1}' | grep -E "^${prefix}(h[0-9]+|dns)$" || true; }

up() {
    local hosts="${1:-3}"
    if ip link show "${bridge}" >/dev/null 2>&1; then echo "already up (scripts/testbed.sh down first)" >&2; exit 1; fi
    mkdir -p "${dir}"
    ip link add "${bridge}" type bridge
    ip addr add "${subnet}.1/24" dev "${bridge}"
    ip link set "${bridge}" up
    attach() {  # NAMESPACE VETH ADDRESS
        ip netns add "$1"
        ip link add "$2" type veth peer name eth0 netns "$1"
        ip link set "$2" master "${bridge}"
        ip link set "$2" up
        ip -n "$1" addr add "$3/24" dev eth0
        ip -n "$1" link set eth0 up
        ip -n "$1" link set lo up
    }
    for n in $(seq 1 "${hosts}"); do
        attach "${prefix}h${n}" "${prefix}v${n}" "${subnet}.$((n + 1))"
        mkdir -p "/etc/netns/${prefix}h${n}"
        printf 'nameserver %s.254\noptions timeout:1 attempts:2\n' "${subnet}" > "/etc/netns/${prefix}h${n}/resolv.conf"
    done
    attach "${dns}" "${prefix}vd" "${subnet}.254"
    printf '%s.254 dns.test\n' "${subnet}" > "${dir}/hosts"
    ip netns exec "${dns}" dnsmasq --conf-file=/dev/null --pid-file="${dir}/dnsmasq.pid" --log-facility="${dir}/dnsmasq.log" \
        --user=root --no-resolv --no-hosts --addn-hosts="${dir}/hosts" --local=/test/ --local-ttl=0 \
        --listen-address="${subnet}.254" --bind-interfaces --port=53
    status
}

down() {
    for ns in $(namespaces); do
        for pid in $(ip netns pids "${ns}"); do kill -9 "${pid}" 2>/dev/null || true; done
    done
    # Veths first (synchronous; a deleted namespace's veths go later, from a kernel work queue), then the rest.
    for link in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^${prefix}v" || true); do
        ip link delete "${link}"
    done
    for ns in $(namespaces); do
        ip netns delete "${ns}"
        rm -rf "/etc/netns/${ns}"
    done
    ip link delete "${bridge}" 2>/dev/null || true
    rm -rf "${dir}"
    echo "down"
}

status() {
    echo "bridge: $(ip -br addr show "${bridge}" 2>/dev/null || echo none)"
    for ns in $(namespaces); do
        echo "${ns}: $(ip -n "${ns}" -br -4 addr show eth0 2>/dev/null | awk '{print $3}') processes: $(ip netns pids "${ns}" | tr '\n' ' ')"
    done
    [ -f "${dir}/dnsmasq.pid" ] && echo "dnsmasq: pid $(cat "${dir}/dnsmasq.pid"), log ${dir}/dnsmasq.log"
    [ -f "${dir}/hosts" ] && { echo "records:"; sed 's/^/  /' "${dir}/hosts"; }
    return 0
}

exec_in() {
    local host="$1"; shift
    local days=0
    if [ "${1:-}" = "--days" ]; then days="$2"; shift 2; fi
    local seconds=$((days * 86400))
    if [ "${seconds}" -gt 0 ]; then
        # Without --fork: execve enters the new time namespace, and the command stays the process signals reach.
        exec ip netns exec "${prefix}h${host}" unshare --time --monotonic "${seconds}" --boottime "${seconds}" "$@"
    fi
    exec ip netns exec "${prefix}h${host}" "$@"
}

records() {
    local name="$1"; shift
    [ -f "${dir}/hosts" ] || { echo "not up" >&2; exit 1; }
    grep -v -E "[[:space:]]${name//./\\.}\$" "${dir}/hosts" > "${dir}/hosts.new" || true
    for address in "$@"; do printf '%s %s\n' "${address}" "${name}" >> "${dir}/hosts.new"; done
    mv "${dir}/hosts.new" "${dir}/hosts"
    kill -HUP "$(cat "${dir}/dnsmasq.pid")"
    echo "${name} → ${*:-(removed)}"
}

[ "$(id -u)" = 0 ] || { echo "the test bed needs root" >&2; exit 1; }
case "${1:-}" in
    up) shift; up "$@" ;;
    down) down ;;
    status) status ;;
    exec) shift; exec_in "$@" ;;
    records) shift; records "$@" ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
esac
