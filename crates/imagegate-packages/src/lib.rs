//! Package inventories of an image's files, the diff of two inventories, and the ranking of
//! changed packages as likely causes of test regressions. Pure: works on file contents handed
//! in by the caller.
