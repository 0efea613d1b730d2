#!/bin/sh
# ucarp down script: remove the virtual address from the interface.
#   $1 interface, $2 virtual address (ucarp's -a); $3 (ucarp's -x) is ignored: the
#   address is removed with whatever prefix it carries. Idempotent: an absent address
#   is not an error (ucarp runs the downscript at every start).
set -eu
iface=$1
vip=$2
present=$(ip -o -4 addr show dev "$iface" | awk -v a="$vip" '{ split($4, p, "/"); if (p[1] == a) print $4 }')
for addr in $present; do
    ip addr del "$addr" dev "$iface"
done
exit 0
