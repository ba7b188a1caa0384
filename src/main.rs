fn main() -> std::process::ExitCode {
    opflow::cli::main()
}
