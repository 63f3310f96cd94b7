//! Shared build script: every crate whose binaries or tests link libtorch uses it
//! (`build = "../../build/rpath.rs"`), so the executables find libtorch at run time
//! without LD_LIBRARY_PATH. torch-sys's own rpath does not reach final binaries.

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(libtorch) = std::env::var("LIBTORCH") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{libtorch}/lib");
    }
}
