fn main() -> std::process::ExitCode {
    notify::cli::main()
}
