//! Builds the C++ bridge to c10d (cpp/bridge.cpp) against the libtorch of the torch wheel
//! (`LIBTORCH`, set by .cargo/config.toml), links it with libtorch_cpu and libc10, and sets the
//! rpath exactly as the shared build/rpath.rs does for the other crates.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=cpp");
    let libtorch = PathBuf::from(std::env::var("LIBTORCH").expect(
        "LIBTORCH is not set: run scripts/bootstrap.sh (it links .libtorch, which .cargo/config.toml names)",
    ));
    let include = libtorch.join("include");
    let lib = libtorch.join("lib");

    // The torch wheel's headers (and the Gloo stand-ins, see cpp/gloo-shim/README.md) are
    // included as system headers, so that their own warnings do not drown out the bridge's.
    let mut build = cc::Build::new();
    build.cpp(true).pic(true).file("cpp/bridge.cpp");
    for dir in [
        include.clone(),
        include.join("torch/csrc/api/include"),
        PathBuf::from("cpp/gloo-shim"),
    ] {
        build.flag("-isystem").flag(dir.display().to_string());
    }
    build
        .flag("-std=c++17")
        // The wheel is built with the C++11 string ABI (`nm -DC libtorch_cpu.so` shows
        // std::__cxx11), as torch-sys detects for its own wrapper.
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        // ProcessGroupGloo.hpp is empty without it; libtorch_cpu.so is built with Gloo.
        .define("USE_C10D_GLOO", None)
        .define("GLOG_USE_GLOG_EXPORT", None)
        .compile("taso_dist_bridge");

    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
    println!("cargo:rustc-link-lib=dylib=c10");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
}
