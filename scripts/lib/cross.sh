# Cross-building for the routers and VMs ucarp runs on, sourced by scripts/build-release
# and scripts/test-cross. Every binary is static, so one file runs on any Linux of its
# CPU (Debian, OpenWrt, Alpine):
#
#   x86_64-unknown-linux-musl      stable; Rust's own musl and linker
#   aarch64-unknown-linux-musl     stable; Rust's own musl, linked by rust-lld
#   armv7-unknown-linux-musleabihf -Z build-std; musl and the linker from zig
#   mips-unknown-linux-musl        -Z build-std; musl and the linker from zig
#                                  (big-endian MIPS32r2, soft float: OpenWrt's ath79 and
#                                  ramips routers)
#
# Why zig for the last two: rustup serves no standard library for MIPS (and none for
# armv7 musl to these machines), and Debian has no musl C library for either. Static glibc, the alternative, costs 410 KB on armv7 and
# 730 KB on MIPS (1.18 MB and 1.39 MB binaries, over the 1 MB goal). zig (from PyPI's
# `ziglang` wheel, pinned) carries musl's sources for every CPU and builds the C library
# it links, so `zig cc` serves as a complete cross C toolchain.

# The pinned zig, unpacked once under target/zig.
ZIG_VERSION=0.13.0

cross_setup() { # TARGET...: installs what building for these targets needs
    local t need_std=0 need_zig=0
    for t in "$@"; do
        case $t in
            x86_64-unknown-linux-musl|aarch64-unknown-linux-musl)
                rustup target list --installed | grep -qx "$t" || rustup target add "$t" ;;
            armv7-unknown-linux-musleabihf|mips-unknown-linux-musl)
                need_std=1; need_zig=1 ;;
            *) echo "cross: unknown target $t" >&2; return 1 ;;
        esac
    done
    if [ $need_std = 1 ] && ! rustup component list --installed | grep -q '^rust-src'; then
        rustup component add rust-src
    fi
    if [ $need_zig = 1 ]; then zig_setup; fi
}

zig_setup() {
    ZIG_DIR=$PWD/target/zig/$ZIG_VERSION
    if [ ! -x "$ZIG_DIR/ziglang/zig" ]; then
        command -v python3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null; }
        python3 -m pip --version >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null; }
        local tmp
        tmp=$(mktemp -d)
        python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" \
            "ziglang==$ZIG_VERSION"
        mkdir -p "$ZIG_DIR"
        python3 -m zipfile -e "$tmp"/ziglang-*.whl "$ZIG_DIR"
        chmod +x "$ZIG_DIR/ziglang/zig"
        rm -rf "$tmp"
    fi
    # One linker wrapper per zig target: zig cc, minus the libraries that Rust's
    # link line names for a C toolchain and zig's musl already provides.
    local name ztarget
    for name in armv7 mips; do
        case $name in
            # Rust's armv7 baseline (VFPv3-D16, Thumb-2, no NEON, no divide
            # instructions), so the C library runs on Cortex-A8 and A9 too.
            armv7) ztarget="arm-linux-musleabihf -mcpu=generic+v7a+vfp3d16+thumb2-neon" ;;
            mips) ztarget="mips-linux-musl -mcpu=mips32r2+soft_float -msoft-float" ;;
        esac
        cat >"$ZIG_DIR/cc-$name" <<EOF
#!/bin/sh
# zig cc as a linker for Rust's $name musl target (made by scripts/lib/cross.sh).
for a in "\$@"; do
    shift
    case "\$a" in --target=*|-lgcc_s|-lgcc_eh|-lgcc) ;; *) set -- "\$@" "\$a" ;; esac
done
ZIG_GLOBAL_CACHE_DIR="$ZIG_DIR/cache" ZIG_LOCAL_CACHE_DIR="$ZIG_DIR/cache" \\
    exec "$ZIG_DIR/ziglang/zig" cc -target $ztarget "\$@"
EOF
        chmod +x "$ZIG_DIR/cc-$name"
    done
}

# cross_cargo TARGET SUBCOMMAND ARGS...: runs `cargo SUBCOMMAND` for TARGET with its
# linker and flags (put before ARGS, so that a `--` in ARGS still ends cargo's own).
cross_cargo() {
    local t=$1 sub=$2
    shift 2
    case $t in
        x86_64-unknown-linux-musl)
            cargo "$sub" --target "$t" "$@" ;;
        aarch64-unknown-linux-musl)
            CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
                cargo "$sub" --target "$t" "$@" ;;
        armv7-unknown-linux-musleabihf)
            RUSTC_BOOTSTRAP=1 CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_LINKER="$ZIG_DIR/cc-armv7" \
                CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_RUSTFLAGS="-C target-feature=+crt-static -C link-self-contained=no" \
                cargo "$sub" --target "$t" -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size "$@" ;;
        mips-unknown-linux-musl)
            RUSTC_BOOTSTRAP=1 CARGO_TARGET_MIPS_UNKNOWN_LINUX_MUSL_LINKER="$ZIG_DIR/cc-mips" \
                CARGO_TARGET_MIPS_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=+crt-static -C link-self-contained=no" \
                cargo "$sub" --target "$t" -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size "$@" ;;
    esac
}

# The qemu-user emulator for TARGET's binaries ("" for the host's own CPU).
cross_runner() {
    case $1 in
        x86_64-*) echo "" ;;
        aarch64-*) echo qemu-aarch64-static ;;
        # The oldest CPU a binary must run on, not qemu's "max", which would hide
        # instructions a real router lacks.
        armv7-*) echo "qemu-arm-static -cpu cortex-a9" ;;
        mips-*) echo qemu-mips-static ;;
    esac
}
