//! What a crate of yours that links libtorch needs so that its binaries and tests find
//! libtorch at run time without `LD_LIBRARY_PATH`: an rpath to `$LIBTORCH/lib`.

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(libtorch) = std::env::var("LIBTORCH") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{libtorch}/lib");
    }
}
