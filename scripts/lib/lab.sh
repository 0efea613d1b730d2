# A throwaway lab of network namespaces, sourced by scripts/demo and the benchmarks:
# one bridge namespace and one namespace per host, each host's eth0 a veth on the
# bridge, addresses from 198.18.0.0/15 and 2001:db8::/64 only. Nothing outside the
# namespaces is touched. Set $lab (a short, unique prefix) and call lab_setup; call
# lab_cleanup on every way out (trap it).

# lab_setup HOST... : the bridge and one namespace per host; host number i (from 1)
# gets 198.18.0.i/15 and 2001:db8::i/64.
lab_setup() {
    lab_hosts=("$@")
    ip netns add "${lab}br"
    # No multicast snooping: CARP's group frames reach every port at once.
    ip -n "${lab}br" link add br0 type bridge mcast_snooping 0
    ip -n "${lab}br" link set br0 up
    local i=0 h
    for h in "${lab_hosts[@]}"; do
        i=$((i + 1))
        ip netns add "$lab$h"
        ip link add eth0 netns "$lab$h" type veth peer name "v$h" netns "${lab}br"
        ip -n "${lab}br" link set "v$h" master br0 up
        ip -n "$lab$h" link set lo up
        ip -n "$lab$h" link set eth0 up
        ip -n "$lab$h" addr add "198.18.0.$i/15" dev eth0
        ip -n "$lab$h" addr add "2001:db8::$i/64" dev eth0 nodad
    done
}

# Kills every process in the lab's namespaces and deletes them. Safe to call twice.
lab_cleanup() {
    local h pid
    for h in "${lab_hosts[@]}" br; do
        for pid in $(ip netns pids "$lab$h" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$lab$h" 2>/dev/null || true
    done
}

# ns HOST CMD...: runs CMD inside HOST's namespace.
ns() { ip netns exec "$lab$1" "${@:2}"; }

# has_vip HOST ADDR: whether HOST's eth0 holds ADDR (IPv4 or IPv6).
has_vip() {
    local shown
    shown=$(ip -n "$lab$1" addr show dev eth0)
    [[ $shown == *" inet $2/"* || $shown == *" inet6 $2/"* ]]
}

# wait_vip HOST ADDR SECONDS: waits until HOST holds ADDR; fails after SECONDS.
wait_vip() {
    local n=0
    until has_vip "$1" "$2"; do
        sleep 0.05
        n=$((n + 1))
        if [ $n -gt $(($3 * 20)) ]; then return 1; fi
    done
}

# outage_ms PINGLOG INTERVAL_MS: the longest gap between two replies of `ping -D`,
# minus the ping interval: how long the address did not answer.
outage_ms() {
    awk -F'[][]' -v step="$2" '/^\[[0-9.]+\] .* bytes from/ && !/DUP/ {
            t = $2 + 0
            if (last) { g = t - last; if (g > max) max = g }
            last = t
        }
        END { o = max * 1000 - step; if (o < 0) o = 0; printf "%.0f", o }' "$1"
}

# lost_replies PINGLOG: how many echo requests between the first and the last reply of
# a `ping` log got no reply (gaps in icmp_seq).
lost_replies() {
    awk 'match($0, /icmp_seq=[0-9]+/) && !/DUP/ {
            n = substr($0, RSTART + 9, RLENGTH - 9) + 0
            if (seen && n > last + 1) lost += n - last - 1
            last = n; seen = 1
        }
        END { print lost + 0 }' "$1"
}
