#!/bin/sh
# ucarp down script: remove the virtual address from the interface.
#   $1 interface, $2 virtual address (ucarp's -a, IPv4 or IPv6); $3 (ucarp's -x) is
#   ignored: the address is removed with whatever prefix it carries. Idempotent: an
#   absent address is not an error (ucarp runs the downscript at every start).
set -eu
iface=$1
vip=$2
case $vip in
    *:*) family=-6 host=128 ;;
    *) family=-4 host=32 ;;
esac
# ip compares the addresses, so any spelling of $vip matches; field 4 is ADDR/prefix.
present=$(ip -o "$family" addr show dev "$iface" to "$vip/$host" | awk '{ print $4 }')
for addr in $present; do
    ip "$family" addr del "$addr" dev "$iface"
done
exit 0
