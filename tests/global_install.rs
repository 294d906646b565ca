//! Configuring the global pool before its first use (its own process: the global pool
//! can be installed once).

use bgdrop::{Bgdrop, FullPolicy, InstallError};

#[test]
fn install_global_configures_the_pool_once() {
    let pool = Bgdrop::builder()
        .threads(2)
        .capacity(100)
        .when_full(FullPolicy::Block)
        .threshold(7)
        .install_global()
        .unwrap();
    assert!(std::ptr::eq(pool, bgdrop::global()));
    let stats = bgdrop::global().stats();
    assert_eq!(stats.workers, 2);
    assert_eq!(stats.capacity, Some(100));
    assert_eq!(stats.policy, FullPolicy::Block);
    assert_eq!(bgdrop::global().threshold(), 7);

    let again = Bgdrop::builder().threads(8).install_global().unwrap_err();
    assert!(matches!(again, InstallError::AlreadyStarted));
    assert!(again.to_string().contains("already started"), "{again}");
    assert_eq!(bgdrop::global().stats().workers, 2);
}
