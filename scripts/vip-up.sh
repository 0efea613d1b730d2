#!/bin/sh
# ucarp up script: add the virtual address to the interface.
#   $1 interface, $2 virtual address (ucarp's -a), $3 optional prefix length (ucarp's -x,
#   default 32 for IPv4, 128 for IPv6). Idempotent: an address already present is left
#   alone. IPv6 addresses are added without duplicate address detection (nodad): during a
#   make-before-break handover the old master still holds the address for a moment, and
#   DAD would mark it as a duplicate, unusable, on the new one.
# Example: ucarp ... -u /usr/share/ucarp/vip-up.sh -d /usr/share/ucarp/vip-down.sh -x 24
set -eu
iface=$1
vip=$2
case $vip in
    *:*) family=-6 host=128 prefix=${3:-128} flags=nodad ;;
    *) family=-4 host=32 prefix=${3:-32} flags= ;;
esac
# `to ADDR/host` lets ip compare addresses, so any spelling of $vip matches
# (2001:DB8::0100 is 2001:db8::100).
if [ -n "$(ip -o "$family" addr show dev "$iface" to "$vip/$host")" ]; then
    exit 0
fi
# $flags is empty or one word.
# shellcheck disable=SC2086
exec ip "$family" addr add "$vip/$prefix" dev "$iface" $flags
