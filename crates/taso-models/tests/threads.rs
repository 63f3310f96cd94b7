//! `set_threads` sizes libtorch's intra-op threads and rayon's global pool (where the CPU
//! dropout draws its masks) alike. Its own binary: the global pool is built once per process.

#[test]
fn set_threads_sizes_libtorch_and_the_rayon_pool_alike() {
    assert_eq!(taso_models::set_threads(Some(3)), 3);
    assert_eq!(tch::get_num_threads(), 3);
    assert_eq!(rayon::current_num_threads(), 3);
}
