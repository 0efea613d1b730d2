//! The `ucarp` binary: a thin shell over the library.

fn main() -> std::process::ExitCode {
    eprintln!("ucarp: the network daemon is not built yet; only the protocol core exists");
    std::process::ExitCode::from(1)
}
