//! The `sqlgate` binary: everything lives in the library; see [`sqlgate::cli`].

fn main() -> std::process::ExitCode {
    sqlgate::cli::main()
}
