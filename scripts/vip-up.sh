#!/bin/sh
# ucarp up script: add the virtual address to the interface.
#   $1 interface, $2 virtual address (ucarp's -a), $3 optional prefix length (ucarp's -x,
#   default 32). Idempotent: an address already present is left alone.
# Example: ucarp ... -u /usr/share/ucarp/vip-up.sh -d /usr/share/ucarp/vip-down.sh -x 24
set -eu
iface=$1
vip=$2
prefix=${3:-32}
if ip -o -4 addr show dev "$iface" | grep -q " inet $vip/"; then
    exit 0
fi
exec ip addr add "$vip/$prefix" dev "$iface"
