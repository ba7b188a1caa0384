// mimalloc: the compiler allocates millions of small strings and vectors on
// large manifests; the system allocator spends a third of the time there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    opflow::cli::main()
}
