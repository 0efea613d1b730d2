#!/bin/sh
# Prints the command line that files/ucarp.init gives procd for each enabled section
# of the UCI file $1, with test/stand-in.sh in place of OpenWrt's shell libraries.
# Usage: contrib/openwrt/test/translate.sh CONFIG-FILE
set -eu
here=$(cd "$(dirname "$0")" && pwd)
UCI_CONFIG_DIR=$(mktemp -d)
trap 'rm -rf "$UCI_CONFIG_DIR"' EXIT
cp "$1" "$UCI_CONFIG_DIR/ucarp"
. "$here/stand-in.sh"
. "$here/../files/ucarp.init"
start_service
